# Thin wrapper over CMake. `make` builds; `make test`, `make demo`, `make bench` do what they say
# on a fresh Debian machine (installing packages first when missing). SANITIZE=1 builds and tests
# everything under ASan + UBSan in a separate build tree.
SANITIZE ?= 0
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
ifeq ($(SANITIZE),1)
BUILD ?= build-asan
CMAKE_FLAGS += -DSLUICE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
else
BUILD ?= build
endif

.PHONY: all deps build test demo bench fuzz clean

all: build

deps:
	@scripts/deps.sh

$(BUILD)/Makefile:
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null

build: $(BUILD)/Makefile
	@cmake --build $(BUILD) -j $(JOBS) -- --no-print-directory

test: deps build
	@SANITIZE=$(SANITIZE) tests/run.sh $(BUILD)

demo: deps build
	@scripts/demo.sh $(BUILD)

bench: deps build
	@tests/bench/run.sh $(BUILD)

# libFuzzer targets (clang), each run briefly; FUZZ_SECONDS sets the time per target.
fuzz: deps
	@tests/fuzz/run.sh

clean:
	rm -rf build build-asan build-fuzz
