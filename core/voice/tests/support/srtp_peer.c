/*
 * An independent SRTP peer for the interop test: libsrtp2 (the reference
 * SRTP implementation) and libopus, with its own RTP and RED (RFC 2198)
 * parsing. Not part of Sotto; built by tests/interop.rs.
 *
 *   srtp_peer decode KEYHEX IN OUT   SRTP/SRTCP datagrams -> 48 kHz s16le PCM
 *   srtp_peer protect KEYHEX IN OUT  plain RTP/RTCP datagrams -> SRTP/SRTCP
 *
 * KEYHEX is the 32-byte master key then the 12-byte master salt.
 * Datagram files are records of a 2-byte big-endian length and the bytes.
 * decode prints "rtp=N rtcp=M red=R" on success.
 */
#include <opus/opus.h>
#include <srtp2/srtp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPUS_PT 111
#define RED_PT 63

static int read_record(FILE *f, uint8_t *buf, int *len) {
  uint8_t hdr[2];
  if (fread(hdr, 1, 2, f) != 2) return 0;
  *len = (hdr[0] << 8) | hdr[1];
  return fread(buf, 1, *len, f) == (size_t)*len;
}

static void write_record(FILE *f, const uint8_t *buf, int len) {
  uint8_t hdr[2] = {(uint8_t)(len >> 8), (uint8_t)len};
  fwrite(hdr, 1, 2, f);
  fwrite(buf, 1, len, f);
}

static int is_rtcp(const uint8_t *p, int len) {
  /* RFC 5761 section 4: RTCP packet types 192-223 in the second octet. */
  return len >= 2 && p[1] >= 192 && p[1] <= 223;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: srtp_peer decode|protect KEYHEX IN OUT\n");
    return 2;
  }
  int decode = strcmp(argv[1], "decode") == 0;
  uint8_t key[SRTP_AES_GCM_256_KEY_LEN_WSALT];
  if (strlen(argv[2]) != 2 * sizeof key) {
    fprintf(stderr, "key must be %zu hex digits\n", 2 * sizeof key);
    return 2;
  }
  for (size_t i = 0; i < sizeof key; i++) sscanf(argv[2] + 2 * i, "%2hhx", &key[i]);
  FILE *in = fopen(argv[3], "rb"), *out = fopen(argv[4], "wb");
  if (!in || !out) {
    perror("open");
    return 2;
  }

  if (srtp_init() != srtp_err_status_ok) return 3;
  srtp_policy_t policy;
  memset(&policy, 0, sizeof policy);
  srtp_crypto_policy_set_aes_gcm_256_16_auth(&policy.rtp);
  srtp_crypto_policy_set_aes_gcm_256_16_auth(&policy.rtcp);
  policy.ssrc.type = decode ? ssrc_any_inbound : ssrc_any_outbound;
  policy.key = key;
  policy.window_size = 128;
  srtp_t session;
  if (srtp_create(&session, &policy) != srtp_err_status_ok) {
    fprintf(stderr, "srtp_create failed\n");
    return 3;
  }

  int err;
  OpusDecoder *dec = opus_decoder_create(48000, 1, &err);
  if (err != OPUS_OK) return 3;
  uint8_t buf[2048];
  int len, rtp = 0, rtcp = 0, red = 0;
  opus_int16 pcm[5760];
  while (read_record(in, buf, &len)) {
    int rc = is_rtcp(buf, len);
    if (!decode) {
      srtp_err_status_t st = rc ? srtp_protect_rtcp(session, buf, &len)
                                : srtp_protect(session, buf, &len);
      if (st != srtp_err_status_ok) {
        fprintf(stderr, "protect failed: %d\n", st);
        return 4;
      }
      write_record(out, buf, len);
      continue;
    }
    srtp_err_status_t st = rc ? srtp_unprotect_rtcp(session, buf, &len)
                              : srtp_unprotect(session, buf, &len);
    if (st != srtp_err_status_ok) {
      fprintf(stderr, "unprotect failed on record %d: %d\n", rtp + rtcp, st);
      return 4;
    }
    if (rc) {
      rtcp++;
      continue;
    }
    rtp++;
    /* RFC 3550 5.1: fixed header, CSRCs, optional extension, padding. */
    int at = 12 + 4 * (buf[0] & 0x0f);
    if (buf[0] & 0x10) at += 4 + 4 * ((buf[at + 2] << 8) | buf[at + 3]);
    int end = len;
    if (buf[0] & 0x20) end -= buf[len - 1];
    int pt = buf[1] & 0x7f;
    if (pt == RED_PT) {
      /* RFC 2198: skip the redundant block headers and blocks. */
      int hdr = at, skip = 0;
      while (buf[hdr] & 0x80) {
        skip += ((buf[hdr + 2] & 0x03) << 8) | buf[hdr + 3];
        hdr += 4;
      }
      pt = buf[hdr] & 0x7f;
      at = hdr + 1 + skip;
      red++;
    }
    if (pt != OPUS_PT || at > end) {
      fprintf(stderr, "unexpected payload\n");
      return 5;
    }
    int n = opus_decode(dec, buf + at, end - at, pcm, 5760, 0);
    if (n < 0) {
      fprintf(stderr, "opus_decode failed\n");
      return 5;
    }
    fwrite(pcm, sizeof(opus_int16), n, out);
  }
  if (decode) printf("rtp=%d rtcp=%d red=%d\n", rtp, rtcp, red);
  srtp_dealloc(session);
  fclose(out);
  return 0;
}
