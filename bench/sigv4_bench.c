/* bench/sigv4_bench.c: the CPU one AWS SigV4 signature costs (what every
 * attempt to a Bedrock deployment pays), for a Converse request of the
 * size bench/providers.sh sends: N signatures in a row, the process's CPU
 * time per signature. The signing key is cached, as in the gateway.
 *
 *   build/sigv4_bench [N]          (bench/sigv4.sh runs it pinned) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "providers/sigv4.h"

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    if (n <= 0 || n > 100000000) {
        fprintf(stderr, "sigv4_bench: N must be 1..100000000\n");
        return 2;
    }
    static const char body[] =
        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"Summarize the plot of a "
        "famous novel in three sentences, please.\"}]}],\"inferenceConfig\":{\"maxTokens\":16}}";
    struct sl_sigv4_header ct = {"content-type", "application/json"};
    struct sl_sigv4_creds creds = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL};
    struct sl_sigv4_key_cache cache = {0};
    struct sl_sigv4_request req = {.method = "POST",
                                   .host = "bedrock-runtime.us-east-1.amazonaws.com",
                                   .path =
                                       "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
                                   .headers = &ct,
                                   .n_headers = 1,
                                   .payload = body,
                                   .payload_len = sizeof(body) - 1,
                                   .region = "us-east-1",
                                   .service = "bedrock",
                                   .time = 1764600000};
    struct timespec a, b;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    for (long i = 0; i < n; i++) {
        struct sl_sigv4_signed out;
        const char *why;
        if (sl_sigv4_sign(&req, &creds, &cache, &out, NULL, NULL, &why) != 0) {
            fprintf(stderr, "sigv4_bench: %s\n", why ? why : "sign failed");
            return 1;
        }
        sl_sigv4_signed_release(&out);
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    double us = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e3;
    printf("sigv4: %ld signatures, %.3f us CPU each (%.0f per second on one core)\n", n, us / n,
           n / (us / 1e6));
    return 0;
}
