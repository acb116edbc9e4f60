/* cardyaml.h - the YAML header of a dataset card (README.md) as JSON, the
 * way the Hub gives it as "cardData": used offline when the Hub's answer
 * was never saved (files fetched by other tools).  hfdata.h reads the
 * configs out of it; cardyaml.c says which YAML it reads. */
#ifndef TFS_CARDYAML_H
#define TFS_CARDYAML_H

#include <jansson.h>

/* The header between the first two "---" lines as a JSON object, or NULL
 * if the file cannot be read or has no header. */
json_t *hf_card_from_readme(const char *path);

#endif
