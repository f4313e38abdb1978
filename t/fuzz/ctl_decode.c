/*
 * ctl_decode - libFuzzer target for the control codec (lib/ctl.c): the
 * request argv decoder and the reply decoder that sallyctl and master run
 * on what arrives over the control socket.  A decoded reply must
 * re-encode to exactly its input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_result res;
	struct ctl_reply r;
	struct buf b;
	char **argv;
	int argc;
	size_t i;

	if (ctl_decode_request(data, size, &argc, &argv) == 0) {
		if (argv[argc] != NULL)
			abort();
		ctl_free_argv(argc, argv);
	}
	if (ctl_result_decode(data, size, &res) == 0) {
		ctl_reply_init(&r);
		r.status = res.status;
		ctl_reply_message(&r, "%s", res.message);
		for (i = 0; i < res.nrec; i++)
			ctl_rec_copy(&r, &res.recs[i]);
		buf_init(&b, 0);
		ctl_reply_encode(&r, &b, 0);
		/* Strings with NUL are refused by the decoder, so what decoded
		 * re-encodes byte for byte (header aside). */
		if (b.len != size + IPC_HDR_LEN || memcmp(b.data + IPC_HDR_LEN, data, size) != 0)
			abort();
		buf_free(&b);
		ctl_reply_free(&r);
		ctl_result_free(&res);
	}
	return 0;
}
