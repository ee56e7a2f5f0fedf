# The two-command quick start: `make run` and `make test`. Everything else is CMake + ctest.
BUILD_DIR      ?= build/release
TEST_BUILD_DIR ?= build/test
DATA_DIR       ?= var
CONFIG         ?= conf/trailstream.yaml
JOBS           ?= $(shell nproc)
MAKEFLAGS      += --no-print-directory

.PHONY: all deps build run test test-build bench fuzz clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTS_TESTS=OFF >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@mkdir -p $(DATA_DIR)
	$(BUILD_DIR)/apps/trailstream serve --config $(CONFIG) --data-dir $(DATA_DIR)

# The test build uses clang with ASan+UBSan and the libFuzzer targets.
test-build: deps
	@cmake -S . -B $(TEST_BUILD_DIR) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	    -DTS_SANITIZE=ON -DTS_FUZZ=ON >/dev/null
	@cmake --build $(TEST_BUILD_DIR) -j $(JOBS)

test: test-build
	@cd $(TEST_BUILD_DIR) && ctest --output-on-failure --timeout 900 -j $(JOBS)

bench: build
	@bench/run-all.sh $(BUILD_DIR)

clean:
	rm -rf build
