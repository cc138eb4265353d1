# Entry points for people and CI. Everything builds in build/ with CMake; dependencies
# come from scripts/install-deps (apt + npm), run once and remembered by a stamp file.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=Release
CFX := $(BUILD)/cfx
DEPS_STAMP := $(BUILD)/.deps-ok

.PHONY: all deps build test demo bench models clean format

all: build

$(DEPS_STAMP): scripts/install-deps
	./scripts/install-deps
	@mkdir -p $(BUILD) && touch $@

deps: $(DEPS_STAMP)

# Ninja, not Makefiles: with Unix Makefiles every object depends on flags.make, which lists the
# precompiled-header flags per source, so adding one source file recompiled everything.
# An existing build folder keeps the generator it was made with.
GENERATOR := $(if $(wildcard $(BUILD)/CMakeCache.txt),,-G Ninja)

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

# Re-trains every shipped model with its recorded seed and command (see docs/models.md).
models: build
	./scripts/make-models.sh $(CFX) models

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf $(BUILD)
