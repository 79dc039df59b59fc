# Thin wrapper over CMake. `make` builds; `make test`, `make demo`, `make bench`, `make eval` do
# what they say on a fresh Debian machine (installing packages first when missing). SANITIZE=1
# builds and tests everything under ASan + UBSan in a separate build tree.
SANITIZE ?= 0
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
ifeq ($(SANITIZE),1)
BUILD ?= build-asan
CMAKE_FLAGS += -DSLUICE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
else
BUILD ?= build
endif

.PHONY: all deps build helm-render manifests test demo bench eval fuzz format clean

all: build

deps:
	@scripts/deps.sh

$(BUILD)/Makefile:
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null

build: $(BUILD)/Makefile
	@cmake --build $(BUILD) -j $(JOBS) -- --no-print-directory

# tools/helm-render (Go, offline from Debian's packages) renders deploy/helm/sluice like helm template.
helm-render: deps
	@scripts/build-helm-render.sh $(BUILD)

# Regenerates deploy/manifests/ from the chart (make test fails when they are not current).
manifests: helm-render
	@scripts/manifests.sh $(BUILD)

test: deps build helm-render
	@SANITIZE=$(SANITIZE) tests/run.sh $(BUILD)

demo: deps build
	@scripts/demo.sh $(BUILD)

bench: deps build
	@tests/bench/run.sh $(BUILD)

# Every canned policy on the real traces in ../shared/data (skips when absent): out/eval.md.
# EVAL_FULL=1 replays ServeGen's whole fortnight instead of one day.
eval: deps build
	@scripts/eval.sh $(BUILD)

# libFuzzer targets (clang), each run briefly; FUZZ_SECONDS sets the time per target.
fuzz: deps
	@tests/fuzz/run.sh

# clang-format every C file in place (make test checks that nothing differs).
format:
	@scripts/format.sh

clean:
	rm -rf build build-asan build-fuzz
