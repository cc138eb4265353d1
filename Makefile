# Entry points for people and CI. Everything builds in build/ with CMake; dependencies
# come from scripts/install-deps (apt + npm), run once and remembered by a stamp file.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=Release
CFX := $(BUILD)/cfx
DEPS_STAMP := $(BUILD)/.deps-ok

.PHONY: all deps build test demo bench models clean format sanitize-build sanitize fuzz

all: build

$(DEPS_STAMP): scripts/install-deps
	./scripts/install-deps
	@mkdir -p $(BUILD) && touch $@

deps: $(DEPS_STAMP)

# Ninja, not Makefiles: with Unix Makefiles every object depends on flags.make, which lists the
# precompiled-header flags per source, so adding one source file recompiled everything.
# A fresh folder also compiles in unity batches (CMake's UNITY_BUILD: 8 sources per compiler
# run), so the torch templates the sources share are compiled once per batch: a clean build
# takes about a third of the CPU time (docs/design.md). When editing, a folder made with
# `make build UNITY=OFF` recompiles only the file changed. An existing folder keeps its settings.
UNITY ?= ON
fresh = $(if $(wildcard $(1)/CMakeCache.txt),,-G Ninja -DCMAKE_UNITY_BUILD=$(UNITY))
GENERATOR := $(call fresh,$(BUILD))

build: $(DEPS_STAMP)
	cmake -S . -B $(BUILD) $(GENERATOR) $(CMAKE_FLAGS) > /dev/null
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Counterfactuals for Fashion-MNIST test images with the shipped classifier.
demo: build
	./scripts/demo.sh $(CFX) out/demo

bench: build
	$(BUILD)/cfx_bench

# ASan + UBSan with clang in its own folder: the whole library is instrumented (and gets
# libFuzzer's coverage hooks), so the unit tests and the fuzz targets share one build.
SANITIZE_BUILD ?= build-sanitize
SANITIZE_FLAGS := -fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined \
  -fno-omit-frame-pointer -gline-tables-only
SANITIZE_ENV := ASAN_OPTIONS=detect_container_overflow=0:detect_odr_violation=0 \
  LSAN_OPTIONS=suppressions=$(CURDIR)/fuzz/lsan.supp:print_suppressions=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
FUZZ_SECONDS ?= 60
FUZZ_SEED ?= 0
SANITIZE_TARGETS ?= cfx_fuzz cfx_tests

sanitize-build: $(DEPS_STAMP)
	CC=clang CXX=clang++ cmake -S . -B $(SANITIZE_BUILD) $(call fresh,$(SANITIZE_BUILD)) \
	  -DCMAKE_BUILD_TYPE=Release \
	  -DCMAKE_CXX_FLAGS_RELEASE=-O1 "-DCMAKE_CXX_FLAGS=$(SANITIZE_FLAGS)" -DCFX_FUZZ=ON \
	  -DCFX_BUILD_PYTHON=OFF -DCFX_BUILD_BENCH=OFF > /dev/null
	cmake --build $(SANITIZE_BUILD) -j $(JOBS) --target $(SANITIZE_TARGETS)

# The unit tests under ASan + UBSan (docs/reliability.md).
sanitize: sanitize-build
	cd $(SANITIZE_BUILD) && $(SANITIZE_ENV) ctest -L unit --output-on-failure -j $(JOBS)

# Every fuzz target for FUZZ_SECONDS (CI: a short smoke time with a fixed FUZZ_SEED).
fuzz:
	$(MAKE) sanitize-build SANITIZE_TARGETS=cfx_fuzz
	./scripts/fuzz.sh $(SANITIZE_BUILD) $(FUZZ_SECONDS) $(FUZZ_SEED)

# Re-trains every shipped model with its recorded seed and command (see docs/models.md).
models: build
	./scripts/make-models.sh $(CFX) models

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf $(BUILD)
