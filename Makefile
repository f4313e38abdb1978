# Sallyport top-level Makefile (non-recursive).
#
#   make            configure if needed, build every program into build/
#   make check      install dependencies, build, run every test (prove)
#   make run        install dependencies, build, run the gateway in the
#                   foreground on its built-in default config
#   make bench      load test: N sessions x M messages of S bytes to a sink
#   make bench-hat  HAT stage: connections/s with a 1,000-entry HAT
#   make bench-status  status/tophosts/hoststatus latency with a big queue
#   make bench-tls  inbound STARTTLS handshakes/s, resumption on and off
#   make install    install (honours DESTDIR, prefix)
#   make deps       install build and test dependencies (apt-get / pkg)
#   make fuzz       build the libFuzzer targets in t/fuzz/ (clang)
#   make clean
#
# SANITIZE=1 builds with AddressSanitizer and UndefinedBehaviorSanitizer.

-include config.mk

BUILD      := build
OBJ        := $(BUILD)/obj
SANITIZE   ?=
OPT        ?= -O2
WARN       := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
              -Wmissing-prototypes -Wno-unused-parameter
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -g $(OPT) $(WARN) -Ilib $(DEP_CFLAGS) $(CFLAGS)
ALL_LDLIBS := $(DEP_LIBS) -lpthread -lm
ifneq ($(SANITIZE),)
ALL_CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
LDFLAGS    += -fsanitize=address,undefined
endif

FLAGS_STAMP := $(ALL_CFLAGS) $(LDFLAGS) $(libexecdir)

# program name : source directory : file holding main()
PROGRAMS := sallyportd:master:sallyportd smtpd:smtpd:smtpd qmgr:qmgr:qmgr \
            deliver:deliver:deliver sallyctl:cli:sallyctl
prog_name = $(word 1,$(subst :, ,$1))
prog_dir  = $(word 2,$(subst :, ,$1))
prog_main = $(word 3,$(subst :, ,$1))

LIB_SRCS := $(wildcard lib/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(OBJ)/%.o)
LIBSP    := $(OBJ)/libsallyport.a

# Only programs whose main file exists are built, so a daemon that is not
# ready yet stays out of the build instead of breaking it.
BUILT_PROGRAMS := $(foreach p,$(PROGRAMS),$(if $(wildcard $(call prog_dir,$p)/$(call prog_main,$p).c),$p))
PROG_BINS := $(foreach p,$(BUILT_PROGRAMS),$(BUILD)/$(call prog_name,$p))

TOOL_SRCS := $(wildcard t/bench/*.c)
TOOL_BINS := $(TOOL_SRCS:t/bench/%.c=$(BUILD)/%)
UNIT_SRCS := $(wildcard t/unit/*.c)
UNIT_BINS := $(UNIT_SRCS:t/unit/%.c=$(BUILD)/t/%)
FUZZ_SRCS := $(wildcard t/fuzz/*.c)

all: $(LIBSP) $(PROG_BINS) $(TOOL_BINS) $(UNIT_BINS)

config.mk: configure config.mk.in
	./configure --prefix=$(or $(prefix),/usr/local) --sysconfdir=/etc

configure: configure.ac
	autoconf

# Rebuild everything when the compiler flags change (e.g. SANITIZE=1).
$(BUILD)/.flags: FORCE
	@mkdir -p $(BUILD)
	@echo '$(FLAGS_STAMP)' | cmp -s - $@ || echo '$(FLAGS_STAMP)' > $@

$(OBJ)/%.o: %.c $(BUILD)/.flags config.mk
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(LIBSP): $(LIB_OBJS)
	rm -f $@ && $(AR) rcs $@ $^

define program_rules
$(call prog_name,$1)_OBJS := $$(patsubst %.c,$(OBJ)/%.o,$$(wildcard $(call prog_dir,$1)/*.c))
$(call prog_name,$1)_LOGIC := $$(filter-out $(OBJ)/$(call prog_dir,$1)/$(call prog_main,$1).o,$$($(call prog_name,$1)_OBJS))
$(BUILD)/$(call prog_name,$1): $$($(call prog_name,$1)_OBJS) $(LIBSP)
	$(CC) $(LDFLAGS) -o $$@ $$^ $(ALL_LDLIBS)
endef
$(foreach p,$(PROGRAMS),$(eval $(call program_rules,$p)))

# A unit test named t/unit/<dir>_<what>.c links the logic of program <dir>
# (everything but its main file) and lib; lib_* tests link lib only.
$(OBJ)/master/%.o: ALL_CFLAGS += -DSP_LIBEXECDIR='"$(libexecdir)/sallyport"'
# Unit tests see the headers of the program they test.
$(OBJ)/t/%.o: ALL_CFLAGS += $(foreach p,$(PROGRAMS),-I$(call prog_dir,$p))
unit_logic = $(foreach p,$(PROGRAMS),$(if $(filter $(call prog_dir,$p)_%,$1),$($(call prog_name,$p)_LOGIC)))
.SECONDEXPANSION:
$(BUILD)/t/%: $(OBJ)/t/unit/%.o $$(call unit_logic,%) $(LIBSP)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(ALL_LDLIBS)

$(BUILD)/%: $(OBJ)/t/bench/%.o $(LIBSP)
	$(CC) $(LDFLAGS) -o $@ $^ $(ALL_LDLIBS)

deps:
	@sh build-aux/deps.sh

check: deps
	$(MAKE) all
	prove --exec '' $(if $(V),-v) $(UNIT_BINS) $(sort $(wildcard t/integration/*.t))

run: deps
	$(MAKE) all
	$(BUILD)/sallyportd -f

bench: deps
	$(MAKE) all
	t/bench/run-bench $(if $(N),-n $(N)) $(if $(M),-m $(M)) $(if $(S),-s $(S))

# Issue-specific figures: the HAT stage (connections/s with 1,000 sender
# group entries and a cached DNS list) and sallyctl latency with a full queue.
bench-hat: deps
	$(MAKE) all
	t/bench/hat-bench $(if $(N),$(N))

bench-status: deps
	$(MAKE) all
	t/bench/status-latency

bench-tls: deps
	$(MAKE) all
	t/bench/tls-bench $(if $(N),$(N)) $(if $(C),$(C))

FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Ilib $(DEP_CFLAGS) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
fuzz: config.mk
	@mkdir -p $(BUILD)/fuzz
	@for f in $(FUZZ_SRCS); do n=$$(basename $$f .c); \
	  echo "clang $$f -> $(BUILD)/fuzz/$$n"; \
	  clang $(FUZZ_CFLAGS) -o $(BUILD)/fuzz/$$n $$f $(LIB_SRCS) $(ALL_LDLIBS) || exit 1; done

install: all
	install -d $(DESTDIR)$(sbindir) $(DESTDIR)$(libexecdir)/sallyport \
	  $(DESTDIR)$(sysconfdir)/sallyport/conf.d $(DESTDIR)$(mandir)/man8 $(DESTDIR)$(mandir)/man5
	install -m 755 $(BUILD)/sallyportd $(BUILD)/sallyctl $(DESTDIR)$(sbindir)/
	for d in smtpd qmgr deliver; do install -m 755 $(BUILD)/$$d $(DESTDIR)$(libexecdir)/sallyport/; done
	test -e $(DESTDIR)$(sysconfdir)/sallyport/sallyport.yaml || \
	  install -m 640 etc/sallyport.yaml $(DESTDIR)$(sysconfdir)/sallyport/sallyport.yaml
	install -m 644 man/*.8 $(DESTDIR)$(mandir)/man8/
	install -m 644 man/*.5 $(DESTDIR)$(mandir)/man5/
	install -d $(DESTDIR)/lib/systemd/system
	sed 's|/usr/local/sbin|$(sbindir)|g' etc/sallyport.service > $(DESTDIR)/lib/systemd/system/sallyport.service

clean:
	rm -rf $(BUILD)

distclean: clean
	rm -rf config.mk config.log config.status configure autom4te.cache

.PHONY: all check run bench bench-hat bench-status bench-tls deps fuzz install clean distclean FORCE
-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)
