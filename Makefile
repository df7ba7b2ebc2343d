# Thin wrappers over CMake. The two commands in the README:
#   make demo   installs dependencies, builds, and runs the main job on the CPU
#   make test   installs dependencies, builds (release + ASan/UBSan) and runs every test
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all deps build asan demo test test-release test-asan format format-check clean

all: build

deps:
	tools/install-deps.sh --with-test

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS)
	cmake --build $(BUILD) -j$(JOBS)

# Sanitizers and the CUDA runtime do not mix (ASan reserves the address range
# the driver wants), so the sanitizer build covers the CPU paths only.
asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKZ_SANITIZE=ON -DKZ_CUDA=OFF
	cmake --build $(ASAN_BUILD) -j$(JOBS)

demo: build
	tools/demo.sh $(BUILD)

test: test-release test-asan

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

test-asan: asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j$(JOBS)

format:
	git ls-files '*.c' '*.h' '*.cu' '*.cuh' | xargs clang-format -i

format-check:
	git ls-files '*.c' '*.h' '*.cu' '*.cuh' | xargs clang-format --dry-run --Werror

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
