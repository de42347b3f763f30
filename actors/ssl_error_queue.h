// A fix for CAF 0.17's OpenSSL module on OpenSSL 3: its sessions call SSL_read/SSL_write/
// SSL_connect/SSL_accept and then SSL_get_error without clearing the thread's error queue first
// (OpenSSL requires it). All sessions share the middleman's one thread, so the error left by one
// peer's dead connection (OpenSSL 3 queues "unexpected eof") made the next read on another,
// healthy connection fail too: killing one node dropped the front's links to its other nodes.
// ssl_error_queue.cpp defines those four functions in this program (they take precedence over
// libssl's for libcaf_openssl) and clears the queue before calling libssl's.
#pragma once

namespace sdw::actors {

// True when this program's wrappers are the SSL_read that libcaf_openssl calls.
bool ssl_error_queue_fix_active();

}  // namespace sdw::actors
