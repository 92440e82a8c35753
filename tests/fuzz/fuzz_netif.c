/*
 * libFuzzer target: arbitrary frames into lwIP's Ethernet input, as the
 * library OS hands them over from the NIC ring (net/lwip/ethif.c).  The
 * input is a sequence of frames, each preceded by a 2-byte length and a
 * byte of milliseconds for the timers; lwIP must drop what it cannot
 * parse without reading outside the frame or failing an assertion.
 */
#include "tests/fuzz/netif_harness.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	harness_init();
	while (size >= 3) {
		size_t len = (size_t)(data[0] | data[1] << 8) % 1600;
		uint32_t ms = data[2];
		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		uint8_t *frame = malloc(len ? len : 1);	/* exactly len: ASan sees overreads */
		memcpy(frame, data, len);
		harness_input(frame, len, ms);
		free(frame);
		data += len;
		size -= len;
	}
	return 0;
}
