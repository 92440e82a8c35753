/*
 * A check lwIP calls on every TCP segment once it has found the
 * connection (LWIP_HOOK_TCP_INPACKET_PCB in lwipopts.h), before the
 * segment touches the connection's state.
 *
 * lwIP 2.1 queues an out-of-order segment that starts inside the receive
 * window without trimming what lies beyond the window's right edge (it
 * trims only a segment appended behind the last queued one).  When the
 * hole before it is filled, the segment comes in order longer than the
 * window left and lwIP stops on the assertion "tcp_receive: ooseq tcplen >
 * rcv_wnd", which ends the program: any peer could do that, and an honest
 * one does when it fills the window exactly and sets FIN on the last
 * segment (the FIN takes one more sequence number than the window).
 * Such a segment is dropped here; the peer sends it again, trimmed to the
 * window by lwIP once it is in order.  The right edge (rcv_nxt + rcv_wnd)
 * never moves left, so what was queued inside it stays inside it.
 */
#include "net/lwip/tcpguard.h"

#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"

/* States in which lwIP may queue a segment's data (tcp_receive). */
static int takes_data(enum tcp_state s)
{
	return s >= SYN_RCVD && s <= LAST_ACK;
}

int tcpguard_input(struct tcp_pcb *pcb, const struct tcp_hdr *hdr, const struct pbuf *p)
{
	if (!takes_data(pcb->state))
		return ERR_OK;
	u32_t seqno = hdr->seqno;		/* host order by now */
	u32_t len = p->tot_len;
	if (TCPH_FLAGS(hdr) & (TCP_FIN | TCP_SYN))
		len++;
	u32_t edge = pcb->rcv_nxt + pcb->rcv_wnd;
	if (seqno == pcb->rcv_nxt || !TCP_SEQ_BETWEEN(seqno, pcb->rcv_nxt, edge - 1))
		return ERR_OK;			/* in order, or lwIP's own checks */
	if (TCP_SEQ_GT(seqno + len, edge))
		return ERR_WOULDBLOCK;		/* out of order and past the edge */
	return ERR_OK;
}
