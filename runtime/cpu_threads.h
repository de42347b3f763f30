// How many CPU threads libtorch's intra-op work (OpenMP, oneDNN) uses. libtorch's own default is
// the number of physical cores as cpuinfo reports them, which in virtual machines is often 1
// while the process may run on more CPUs (measured on this project's 2-CPU VMs: a fp32 SD1.5 UNet
// step 3.9 s with 1 thread, 2.8 s with 2; bf16 1.9 s -> 1.1 s).
#pragma once

namespace sdw {

// Sets libtorch's intra-op thread count once, after the command line is read: $SDW_CPU_THREADS if
// set (> 0), else $OMP_NUM_THREADS as libtorch reads it (left alone), else one thread for a tiny
// model (the built-in demo: its operations are so small that OpenMP's fork/join costs more than
// it saves; measured 2-3x slower with 2 threads), else every CPU in this process's affinity mask
// (Linux; elsewhere std::thread::hardware_concurrency).
// Returns the count in use. Threads that run libtorch work later pick it up through
// at::init_num_threads() (the device thread does).
int configure_cpu_threads(bool tiny_model);

}  // namespace sdw
