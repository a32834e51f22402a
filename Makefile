# The two commands of the README, and a few more for developers.
#   make run    install missing Debian packages, build a release binary, start the demo plant
#   make test   install missing packages, build with -Werror and ASan+UBSan, run every test
# Everything else is a CMake build in build/<flavour>.

JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
LISTEN  ?= 127.0.0.1:8080
DATA    ?= ./gemba-data
FUZZ_SECONDS ?= 300

.PHONY: run test build release debug asan fuzz clean deps deps-test format bench-oee bench-api bench-sim bench-connect \
        bench-ingest bench-codec bench-store deps-bench opt-build

deps:
	@scripts/deps.sh

deps-test:
	@scripts/deps.sh --test

deps-bench:
	@scripts/deps.sh --bench

release: deps
	@cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build/release -j $(JOBS) -- --no-print-directory

build: release

run: release
	@echo "gemba: starting the demo plant; open http://$(LISTEN)/ (Ctrl-C stops it)"
	@exec build/release/gemba serve --demo --data $(DATA) --listen $(LISTEN)

debug: deps
	@cmake -S . -B build/debug -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build build/debug -j $(JOBS)

asan: deps-test
	@cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DGB_SANITIZE=ON -DGB_WERROR=ON -DGB_TESTS=ON >/dev/null
	@cmake --build build/asan -j $(JOBS)

# Fuzz targets need clang's libFuzzer; they get a build of their own.
fuzz-build: deps-test
	@cmake -S . -B build/fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DGB_FUZZ=ON -DGB_WERROR=ON >/dev/null
	@cmake --build build/fuzz -j $(JOBS)

# The unit tests once more, compiled as users' binaries are (-O3): an optimiser's wrong code, or
# code whose meaning depends on the optimiser, shows here and not in the sanitised -O0 build.
opt-build: deps-test
	@cmake -S . -B build/opt -DCMAKE_BUILD_TYPE=Release -DGB_TESTS=ON >/dev/null
	@cmake --build build/opt --target unit_tests -j $(JOBS) -- --no-print-directory >/dev/null

test: asan fuzz-build opt-build
	@cd build/asan && ctest --output-on-failure -j $(JOBS)
	@cd build/opt && ctest --output-on-failure -R '^unit/test_' -j $(JOBS)
	@cd build/fuzz && ctest --output-on-failure -L fuzz -j $(JOBS)

fuzz: fuzz-build
	@for t in build/fuzz/fuzz_*; do \
	  name=$$(basename $$t); corpus=tests/fuzz/corpus/$${name#fuzz_}; \
	  mkdir -p build/fuzz/corpus-$$name; \
	  echo "== $$name for $(FUZZ_SECONDS)s"; \
	  $$t -max_total_time=$(FUZZ_SECONDS) build/fuzz/corpus-$$name $$corpus || exit 1; \
	done

# Benchmarks print a table of ratios; run them on a quiet machine.
bench-oee: release
	@cmake --build build/release --target bench_oee -j $(JOBS) -- --no-print-directory >/dev/null
	@build/release/bench_oee $(ARGS)

bench-ingest: release
	@cmake --build build/release --target bench_ingest -j $(JOBS) -- --no-print-directory >/dev/null
	@build/release/bench_ingest $(ARGS)

bench-codec: release
	@cmake --build build/release --target bench_codec -j $(JOBS) -- --no-print-directory >/dev/null
	@build/release/bench_codec $(ARGS)

bench-sim: release
	@cmake --build build/release --target bench_sim -j $(JOBS) -- --no-print-directory >/dev/null
	@build/release/bench_sim $(ARGS)

# ARGS: SECONDS CONNECTIONS MACHINES
bench-api: deps-bench release
	@bench/api/bench_api.sh build/release $(ARGS)

bench-connect: release
	@bench/connect/bench_connect.sh build/release $(ARGS)

# ARGS: MPOINTS (plant load, millions of points; default 10) BATCH CLIENTS SENSORS_DIR
bench-store: deps-bench release
	@bench/store/bench_store.sh build/release $(ARGS)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
