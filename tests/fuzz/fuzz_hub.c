/* fuzz_hub.c - what the Hub API answers (hub/): a response header line
 * (Link, Retry-After, RateLimit), the revision info (its sha and card
 * data) and the file listing, from which hf_choose picks a split's files.
 * The input is these three parts separated by lines "--". */
#include "fuzz.h"
#include "hub/hfcache.h"
#include "hub/hfdata.h"
#include "hub/hub.h"

#include <jansson.h>

void fuzz_target(const uint8_t *data, size_t n)
{
    const uint8_t *info, *tree_text;
    size_t info_n, tree_n;
    size_t head = fuzz_split(data, n, &info, &info_n);
    char next[4096];
    long wait;
    hub_parse_header((const char *)data, head, next, sizeof next, &wait);

    info_n = fuzz_split(info, info_n, &tree_text, &tree_n);
    json_t *rev = json_loadb((const char *)info, info_n, 0, NULL);
    json_t *tree = json_loadb((const char *)tree_text, tree_n, 0, NULL);
    json_t *sha = json_object_get(rev, "sha");
    if (json_is_string(sha)) (void)hfc_is_sha(json_string_value(sha));
    if (json_is_array(tree)) {
        struct hf_choice c;
        json_t *card = json_object_get(rev, "cardData");
        if (hf_choose("fuzz/repo", card ? card : json_null(), tree, NULL, "train", &c)) hf_choice_free(&c);
        hf_choose_converted("fuzz/repo", tree, NULL, "train", &c);
        hf_choice_free(&c);
    }
    json_decref(rev);
    json_decref(tree);
}
