#include <stdlib.h>
#include <isa-l/igzip_lib.h>

// ISA-L's `struct inflate_state` holds multi-kilobyte C arrays, which Swift imports as huge
// tuples; Swift sees it only as an opaque pointer and these helpers touch its fields.

// A heap-allocated inflater that parses gzip headers and checks CRC32 and ISIZE itself
// (ISAL_GZIP). NULL when out of memory.
static inline void *kiln_isal_gzip_new(void) {
    struct inflate_state *s = (struct inflate_state *)malloc(sizeof(struct inflate_state));
    if (s) {
        isal_inflate_init(s);
        s->crc_flag = ISAL_GZIP;
    }
    return s;
}

static inline void kiln_isal_free(void *state) { free(state); }

// Ready for the next gzip member.
static inline void kiln_isal_gzip_reset(void *state) {
    struct inflate_state *s = (struct inflate_state *)state;
    isal_inflate_reset(s);
    s->crc_flag = ISAL_GZIP;
}

// One isal_inflate call. `*avail_in` and `*avail_out` are updated to what is left. `*finished`
// is set when the member's trailer has been read and checked; `*unread` is then the number of
// bytes ISA-L took from the input without using them (bits left in its bit buffer; 0 in
// practice), which belong to whatever follows the member. Returns ISA-L's code (0 or negative).
static inline int kiln_isal_inflate(void *state, const uint8_t *in, uint32_t *avail_in,
                                    uint8_t *out, uint32_t *avail_out,
                                    int *finished, uint32_t *unread) {
    struct inflate_state *s = (struct inflate_state *)state;
    s->next_in = (uint8_t *)in;
    s->avail_in = *avail_in;
    s->next_out = out;
    s->avail_out = *avail_out;
    int rc = isal_inflate(s);
    *avail_in = s->avail_in;
    *avail_out = s->avail_out;
    *finished = s->block_state == ISAL_BLOCK_FINISH;
    *unread = (*finished && s->read_in_length > 0) ? (uint32_t)(s->read_in_length / 8) : 0;
    return rc;
}
