# Thin wrapper around CMake for the README's commands.
#   make          build build/dmarcstat
#   make run      set up (Debian packages, npm), build, load demo data, serve the dashboard
#   make test     set up test servers and tools, build, run every test, then again under ASan+UBSan
#   make test-asan  only the ASan+UBSan build and its tests (after make test's set-up)
#   make fuzz     build the libFuzzer harnesses with clang and run each FUZZ_SECONDS (60)
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
ifeq ($(CI),true)
CMAKE_FLAGS += -DDMARCSTAT_WERROR=ON
endif

.PHONY: all build run test test-fast test-asan fuzz bench demo clean bootstrap bootstrap-test

all: build

bootstrap:
	@scripts/bootstrap.sh run

bootstrap-test:
	@scripts/bootstrap.sh test

build:
	@if [ ! -f $(BUILD)/CMakeCache.txt ]; then cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null; fi
	@cmake --build $(BUILD) -j$(JOBS)

demo: build
	@scripts/demo.sh $(BUILD)

run: bootstrap
	@$(MAKE) --no-print-directory build
	@scripts/demo.sh $(BUILD) serve

test: bootstrap-test
	@scripts/test.sh

test-fast: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

test-asan: bootstrap-test
	@scripts/test.sh asan

FUZZ_SECONDS ?= 60
fuzz: bootstrap-test
	@scripts/fuzz.sh $(FUZZ_SECONDS)

bench: bootstrap
	@$(MAKE) --no-print-directory build BUILD=build-release CMAKE_FLAGS="-DCMAKE_BUILD_TYPE=Release"
	@bench/run.sh build-release

clean:
	rm -rf build build-asan build-fuzz build-release
