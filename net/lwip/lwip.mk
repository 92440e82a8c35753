# The lwIP port: lwIP's core (from the Debian source tools/deps.sh unpacks;
# LWIP_SRC points elsewhere) and the port files of net/lwip/, compiled with
# the library OS's flags into libos.a.  No lwIP code is in the repository.
LWIP_SRC      ?= $(BUILD)/third_party/lwip
LWIP_CORE     := core/def.c core/inet_chksum.c core/init.c core/ip.c core/mem.c core/memp.c \
                 core/netif.c core/pbuf.c core/raw.c core/stats.c core/sys.c core/tcp.c \
                 core/tcp_in.c core/tcp_out.c core/timeouts.c core/udp.c core/dns.c \
                 core/ipv4/dhcp.c core/ipv4/etharp.c core/ipv4/icmp.c core/ipv4/igmp.c core/ipv4/ip4.c \
                 core/ipv4/ip4_addr.c core/ipv4/ip4_frag.c core/ipv6/ethip6.c core/ipv6/icmp6.c \
                 core/ipv6/inet6.c core/ipv6/ip6.c core/ipv6/ip6_addr.c core/ipv6/ip6_frag.c \
                 core/ipv6/mld6.c core/ipv6/nd6.c netif/ethernet.c
LWIP_INC      := -Inet/lwip -I$(LWIP_SRC)/src/include
LWIP_PORT     := $(wildcard net/lwip/*.c)
LWIP_OBJS     := $(patsubst %.c,$(BUILD)/lwip/%.o,$(LWIP_CORE)) \
                 $(patsubst %.c,$(BUILD)/libos/%.o,$(LWIP_PORT))

$(BUILD)/lwip/%.o: $(LWIP_SRC)/src/%.c net/lwip/lwipopts.h net/lwip/arch/cc.h
	$(Q)mkdir -p $(@D)
	$(Q)echo "  LWIP    $*.c"
	$(Q)$(LIBOS_CC) $(LIBOS_CFLAGS) $(LWIP_INC) -c -o $@ $<
$(patsubst %.c,$(BUILD)/libos/%.o,$(LWIP_PORT)): LIBOS_CFLAGS += $(LWIP_INC)
$(LIBOS_A): $(LWIP_OBJS)

# The same lwIP and input path on the host: the bad-input unit test (with
# the sanitizers) and the libFuzzer target over the netif input.
NETIF_HOST_OBJS = $(patsubst %.c,$(1)/lwip/%.o,$(LWIP_CORE)) $(call $(2),net/lwip/ethif.c net/lwip/tcpguard.c tests/fuzz/netif_harness.c)
$(BUILD)/host/lwip/%.o: $(LWIP_SRC)/src/%.c net/lwip/lwipopts.h net/lwip/arch/cc.h
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) $(LWIP_INC) -c -o $@ $<
$(BUILD)/fuzz/lwip/%.o: $(LWIP_SRC)/src/%.c net/lwip/lwipopts.h net/lwip/arch/cc.h
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -Wno-tautological-constant-out-of-range-compare $(LWIP_INC) -c -o $@ $<
$(BUILD)/host/net/lwip/ethif.o $(BUILD)/host/net/lwip/tcpguard.o $(BUILD)/host/tests/fuzz/netif_harness.o \
$(BUILD)/host/tests/host/test_netif.o: HOST_CFLAGS += $(LWIP_INC)
$(BUILD)/fuzz/net/lwip/ethif.o $(BUILD)/fuzz/net/lwip/tcpguard.o $(BUILD)/fuzz/tests/fuzz/netif_harness.o \
$(BUILD)/fuzz/tests/fuzz/fuzz_netif.o: FUZZ_CFLAGS += $(LWIP_INC)
$(BUILD)/tests/test_netif: $(call NETIF_HOST_OBJS,$(BUILD)/host,host_objs) $(BUILD)/host/tests/host/test_netif.o
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) -o $@ $^ $(HOST_LDLIBS)
$(BUILD)/fuzz/fuzz_netif: $(call NETIF_HOST_OBJS,$(BUILD)/fuzz,fuzz_objs) $(BUILD)/fuzz/tests/fuzz/fuzz_netif.o
	$(Q)$(FUZZ_CC) $(FUZZ_LDFLAGS) -o $@ $^
TEST_DEPS += $(BUILD)/tests/test_netif $(BUILD)/fuzz/fuzz_netif
FUZZ_DEPS += $(BUILD)/fuzz/fuzz_netif
FUZZ_CMDS += tests/fuzz/fuzz_netif_long.sh

# The socket layer on the host: random socket calls (tests/fuzz/fuzz_socket.c)
# through a stand-in for the rest of the library OS (tests/fuzz/socket_shim.c).
SOCKET_FUZZ_SRCS := net/lwip/socket.c net/lwip/mcast.c tests/fuzz/socket_shim.c tests/fuzz/fuzz_socket.c
$(call fuzz_objs,$(SOCKET_FUZZ_SRCS)): FUZZ_CFLAGS += $(LWIP_INC)
$(BUILD)/fuzz/fuzz_socket: $(call NETIF_HOST_OBJS,$(BUILD)/fuzz,fuzz_objs) $(call fuzz_objs,$(SOCKET_FUZZ_SRCS))
	$(Q)$(FUZZ_CC) $(FUZZ_LDFLAGS) -o $@ $^
TEST_DEPS += $(BUILD)/fuzz/fuzz_socket
FUZZ_DEPS += $(BUILD)/fuzz/fuzz_socket
FUZZ_CMDS += tests/fuzz/fuzz_socket_long.sh

# make bench: 100 MiB between two guests (tests/tools/guest-to-guest-bench)
BENCH_DEPS += $(BUILD)/user/nettest
BENCH_CMDS += tests/tools/guest-to-guest-bench
