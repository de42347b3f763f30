# Per test executable: labels beyond its folder's (default: unit), the libraries it links
# (default: sdw_model) and extra sources (SDW_SOURCES_<test>).

# model/
set(SDW_LABELS_test_safetensors unit fuzz)
set(SDW_LIBS_test_safetensors sdw_safetensors)
set(SDW_LABELS_test_tokenizer parity fuzz)
set(SDW_LIBS_test_tokenizer sdw_tokenizer)
set(SDW_LABELS_test_schedulers parity)
set(SDW_LIBS_test_schedulers sdw_schedulers)
foreach(t test_image_decode test_stb_guards test_png_encode test_png_text test_jpeg_encode test_base64
          test_image_convert test_generation_parameters)
  set(SDW_LABELS_${t} unit fuzz)
  set(SDW_LIBS_${t} sdw_image)
endforeach()
set(SDW_LABELS_test_png_encode unit)
set(SDW_LABELS_test_jpeg_encode unit)
set(SDW_LABELS_test_image_convert unit)
set(SDW_LABELS_test_generation_parameters unit)
foreach(t test_clip_text_model test_unet test_autoencoder_kl test_manifests)
  set(SDW_LABELS_${t} parity)
  set(SDW_LIBS_${t} sdw_loading)
endforeach()
set(SDW_LABELS_test_loading unit)
set(SDW_LIBS_test_loading sdw_loading)
set(SDW_LABELS_test_single_file parity)
set(SDW_SOURCES_test_single_file seeded_cases.cpp)
set(SDW_LABELS_test_single_file_sdxl parity)
set(SDW_SOURCES_test_single_file_sdxl seeded_cases.cpp)
set(SDW_LABELS_test_catalog unit)
set(SDW_LIBS_test_catalog sdw_catalog)
set(SDW_LABELS_test_asset_folders unit)
set(SDW_LIBS_test_asset_folders sdw_catalog)
set(SDW_LABELS_test_pipeline parity)
set(SDW_SOURCES_test_pipeline seeded_cases.cpp)
set(SDW_LABELS_test_sdxl_pipeline parity)
set(SDW_LABELS_test_sdxl_modes parity)
set(SDW_SOURCES_test_sdxl_modes seeded_cases.cpp)
# LoRA (model/lora): file reading, the prompt syntax and fusing are unit tests; the key mapping
# (merged weights) and the seeded images are parity tests against diffusers' fixtures.
set(SDW_LABELS_test_lora_file unit)
set(SDW_LABELS_test_prompt_loras unit)
set(SDW_LABELS_test_lora_state unit)
set(SDW_LABELS_test_lora_targets parity)
set(SDW_LABELS_test_lora_pipeline parity)
set(SDW_SOURCES_test_lora_pipeline seeded_cases.cpp)
set(SDW_LABELS_test_textual_inversion unit)
set(SDW_LABELS_test_prompt_tokens parity)
# On an accelerator (SDW_TEST_DEVICE, default cuda:0): outside the default run; bench/gpu_check.sh.
set(SDW_LABELS_test_device_parity gpu parity)
set(SDW_SOURCES_test_device_parity seeded_cases.cpp)

# actors/
set(SDW_LABELS_test_actors actors)
set(SDW_LIBS_test_actors sdw_actors)
set(SDW_LABELS_test_actors_messages unit)
set(SDW_LIBS_test_actors_messages sdw_actors)
set(SDW_LABELS_test_job_deadlines unit)
set(SDW_LIBS_test_job_deadlines sdw_actors)
set(SDW_LABELS_test_actors_soak slow)
set(SDW_LIBS_test_actors_soak sdw_actors)

# net/
set(SDW_LABELS_test_http unit http)
set(SDW_LIBS_test_http sdw_net)
set(SDW_LABELS_test_connections unit http)
set(SDW_LIBS_test_connections sdw_net)
set(SDW_LABELS_test_static_files unit http)
set(SDW_LIBS_test_static_files sdw_net)
# Hugging Face Hub download: a fake Hub on loopback.
set(SDW_LABELS_test_hub hub http)
set(SDW_LIBS_test_hub sdw_net sdw_loading)

# e2e/: the real binary (tests/CMakeLists.txt adds the harness, the binary and a 300 s timeout).
set(SDW_LABELS_test_http_e2e http)
set(SDW_LIBS_test_http_e2e sdw_net)
set(SDW_LABELS_test_http_browser http browser)
set(SDW_LIBS_test_http_browser sdw_net)
set(SDW_LABELS_test_http_hostile http)
set(SDW_LABELS_test_lora_e2e http parity)
set(SDW_LABELS_test_embeddings_e2e http)
set(SDW_LIBS_test_embeddings_e2e sdw_net)
set(SDW_LIBS_test_lora_e2e sdw_net)
set(SDW_SOURCES_test_lora_e2e seeded_cases.cpp)
set(SDW_LIBS_test_http_hostile sdw_net)
set(SDW_LABELS_test_http_load http)  # 10-30 s on 2 cores: not `slow`
set(SDW_LIBS_test_http_load sdw_net)
# GET /openapi.json against real responses (the TypeScript SDK's types come from that document).
set(SDW_LABELS_test_openapi_e2e http)
set(SDW_LIBS_test_openapi_e2e sdw_net)
set(SDW_SOURCES_test_openapi_e2e e2e/openapi_check.cpp)
# The web UI's routes: static files, path safety, --no-ui, an unbuilt UI, the install layout.
set(SDW_LABELS_test_ui_e2e http ui)
set(SDW_LIBS_test_ui_e2e sdw_net)
# rbee registration and heartbeats: fake hive/queen servers and the real `sd-worker serve`.
set(SDW_LABELS_test_heartbeat rbee)
set(SDW_LIBS_test_heartbeat sdw_net)
set(SDW_LABELS_test_rbee_cli rbee cli)
set(SDW_LIBS_test_rbee_cli sdw_net)
set(SDW_LABELS_test_cli_generate parity cli)
set(SDW_SOURCES_test_cli_generate seeded_cases.cpp)
# The real binary on a Hub reference, against the fake Hub of tests/net/hub/fake_hub.h.
set(SDW_LABELS_test_hub_e2e hub http)
set(SDW_LIBS_test_hub_e2e sdw_net sdw_loading)
# The real `sd-worker generate` on the single-file fixtures (helpers: model/loading/single_file_test_util.h).
set(SDW_LABELS_test_single_file_e2e parity cli)
set(SDW_SOURCES_test_single_file_e2e seeded_cases.cpp)
