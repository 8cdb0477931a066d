# Benchmark programs (not tests: they print figures and never fail on
# timing).  Driven by bench/run_all.sh; build with
#   cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release
#   cmake --build build-bench -j2 --target jitgate bench_index bench_cycle_load
# They are part of `all` so that CI notices when an API they use changes.

add_executable(bench_index bench/index_bench.c)
target_link_libraries(bench_index PRIVATE jitgate_lib)

add_executable(bench_cycle_load bench/cycle_load.c)
target_link_libraries(bench_cycle_load PRIVATE jitgate_lib)
