# The two commands a new machine needs:
#   make demo   install what is missing, build, run a master + agent and a few tasks
#   make test   install what is missing, build, run the whole test suite
BUILD      ?= build
ASAN_BUILD ?= build-asan
CMAKE_ARGS ?=

PREFIX     ?= /usr/local
UNIT_DIR   ?= /etc/systemd/system

.PHONY: all bootstrap configure build demo test test-asan bench bench-vm install clean

all: build

bootstrap:
	@./scripts/bootstrap

configure: bootstrap
	@cmake -S . -B $(BUILD) -G Ninja -DBERTH_WERROR=ON $(CMAKE_ARGS) >/dev/null

build: configure
	@cmake --build $(BUILD)

demo: build
	@./scripts/demo $(BUILD)/bin

test: build
	@./scripts/run-tests $(BUILD)

# The unit tests again, built with AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan: bootstrap
	@cmake -S . -B $(ASAN_BUILD) -G Ninja -DBERTH_WERROR=ON -DBERTH_SANITIZE=address,undefined \
	  -DCMAKE_BUILD_TYPE=Debug $(CMAKE_ARGS) >/dev/null
	@cmake --build $(ASAN_BUILD)
	@./scripts/run-tests $(ASAN_BUILD) unit

# Launch latency and throughput against runc and crun on one bundle (root);
# see BENCHMARKS.md. bench-vm runs the same inside the real-kernel test VM.
bench: build
	@$(BUILD)/bench/berth_launch_compare

bench-vm: build
	@./bench/vm-compare $(BUILD)

# The binaries to $(PREFIX)/bin and the systemd units (deploy/systemd) to
# $(UNIT_DIR); then `systemctl daemon-reload` and `systemctl enable --now
# berth-master` or `berth-agent`, with flags in /etc/default/berth-*.
install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(UNIT_DIR)
	install -m 0755 $(BUILD)/bin/berth-master $(BUILD)/bin/berth-agent $(BUILD)/bin/berth \
	  $(BUILD)/bin/berth-runtime $(DESTDIR)$(PREFIX)/bin/
	sed 's|/usr/local/bin/|$(PREFIX)/bin/|' deploy/systemd/berth-master.service \
	  > $(DESTDIR)$(UNIT_DIR)/berth-master.service
	sed 's|/usr/local/bin/|$(PREFIX)/bin/|' deploy/systemd/berth-agent.service \
	  > $(DESTDIR)$(UNIT_DIR)/berth-agent.service

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
