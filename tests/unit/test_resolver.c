/* The loopback resolver's answer (src/ns/resolver.c, ns_dns_refusal): a
 * query in, REFUSED out with the id and the first question echoed, the
 * name read by glibc's parser; everything else dropped. */
#include <stdint.h>
#include <string.h>

#include "../../src/ns/resolver.h"
#include "test.h"

/* A query with id 0xbeef, RD, one question for NAME (wire form) type A. */
static size_t query(uint8_t *q, const void *wire, size_t wire_len)
{
        static const uint8_t head[12] = { 0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };
        static const uint8_t type_a_class_in[4] = { 0, 1, 0, 1 };
        memcpy(q, head, sizeof(head));
        memcpy(q + 12, wire, wire_len);
        memcpy(q + 12 + wire_len, type_a_class_in, sizeof(type_a_class_in));
        return 12 + wire_len + 4;
}

TEST(resolver_refuses_and_echoes_the_question)
{
        uint8_t q[600], ans[NS_DNS_ANSWER_MAX];
        char name[NS_DNS_NAME_MAX];
        size_t n = query(q, "\x06GooGle\x03" "com\x00", 12);
        ssize_t len = ns_dns_refusal(q, n, ans, name);
        CHECK(len == (ssize_t)n);
        CHECK(ans[0] == 0xbe && ans[1] == 0xef);
        CHECK(ans[2] == 0x81); /* QR, opcode QUERY, RD copied */
        CHECK(ans[3] == 5);    /* RA clear, REFUSED */
        CHECK(ans[4] == 0 && ans[5] == 1);
        for (int i = 6; i < 12; i++)
                CHECK(ans[i] == 0); /* no answer, authority or additional records */
        CHECK(memcmp(ans + 12, q + 12, n - 12) == 0);
        CHECK(strcmp(name, "google.com") == 0);
}

TEST(resolver_escapes_what_is_not_printable)
{
        uint8_t q[600], ans[NS_DNS_ANSWER_MAX];
        char name[NS_DNS_NAME_MAX];
        size_t n = query(q, "\x05" "a\x07\x1b\xff." "\x01x\x00", 9);
        CHECK(ns_dns_refusal(q, n, ans, name) == (ssize_t)n);
        CHECK(strcmp(name, "a\\007\\027\\255\\..x") == 0);
}

TEST(resolver_takes_a_255_byte_name_and_drops_a_longer_one)
{
        uint8_t q[600], ans[NS_DNS_ANSWER_MAX];
        char name[NS_DNS_NAME_MAX], wire[300];
        size_t w = 0;
        /* 3 labels of 63 and one of 61: 255 bytes with the root label. */
        for (int l = 0; l < 4; l++) {
                size_t len = l < 3 ? 63 : 61;
                wire[w++] = (char)len;
                memset(wire + w, 'a' + l, len);
                w += len;
        }
        wire[w++] = 0;
        CHECK(w == 255);
        size_t n = query(q, wire, w);
        CHECK(ns_dns_refusal(q, n, ans, name) == (ssize_t)n);
        CHECK(strlen(name) == 63 * 3 + 61 + 3);
        /* One more byte in the last label: 256, not a name. */
        wire[192] = 62;
        memmove(wire + 193 + 62, wire + 193 + 61, 1);
        wire[193 + 61] = 'd';
        n = query(q, wire, 256);
        CHECK(ns_dns_refusal(q, n, ans, name) == -1);
        CHECK(name[0] == '\0');
}

TEST(resolver_drops_answers_empty_and_cut_queries)
{
        uint8_t q[600], ans[NS_DNS_ANSWER_MAX];
        char name[NS_DNS_NAME_MAX];
        size_t n = query(q, "\x01x\x00", 3);
        CHECK(ns_dns_refusal(q, 11, ans, name) == -1);    /* shorter than a header */
        CHECK(ns_dns_refusal(q, n - 1, ans, name) == -1); /* type/class cut */
        q[2] |= 0x80;
        CHECK(ns_dns_refusal(q, n, ans, name) == -1); /* an answer, not a query */
        q[2] &= 0x7f;
        q[5] = 0;
        CHECK(ns_dns_refusal(q, n, ans, name) == -1); /* no question */
        /* A compression pointer that points at itself: a loop, refused by glibc. */
        q[5] = 1;
        memcpy(q + 12, "\xc0\x0c\x00\x01\x00\x01", 6);
        CHECK(ns_dns_refusal(q, 18, ans, name) == -1);
}
