# The lwIP port: lwIP's core (from the Debian source tools/deps.sh unpacks;
# LWIP_SRC points elsewhere) and the port files of net/lwip/, compiled with
# the library OS's flags into libos.a.  No lwIP code is in the repository.
LWIP_SRC      ?= $(BUILD)/third_party/lwip
LWIP_CORE     := core/def.c core/inet_chksum.c core/init.c core/ip.c core/mem.c core/memp.c \
                 core/netif.c core/pbuf.c core/raw.c core/stats.c core/sys.c core/tcp.c \
                 core/tcp_in.c core/tcp_out.c core/timeouts.c core/udp.c core/dns.c \
                 core/ipv4/dhcp.c core/ipv4/etharp.c core/ipv4/icmp.c core/ipv4/ip4.c \
                 core/ipv4/ip4_addr.c core/ipv4/ip4_frag.c netif/ethernet.c
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
