// Label and field selectors as the Kubernetes API takes them in ?labelSelector= and
// ?fieldSelector=: parsing (with the API server's error messages' substance) and matching
// against objects. Also renders a LabelSelector object ({matchLabels, matchExpressions}) in the
// string form the scale subresource reports.
#pragma once

#include <stddef.h>

#include "core/util/err.h"
#include "core/util/json.h"

typedef enum {
  SL_SEL_EQ,
  SL_SEL_NEQ,
  SL_SEL_IN,
  SL_SEL_NOTIN,
  SL_SEL_EXISTS,
  SL_SEL_NOTEXISTS,
  SL_SEL_GT,
  SL_SEL_LT,
} sl_sel_op_t;

typedef struct {
  char *key;
  sl_sel_op_t op;
  char **values;
  size_t n_values;
} sl_sel_req_t;

typedef struct {
  sl_sel_req_t *reqs;
  size_t n;
} sl_sel_t;

// Label selector: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>3`, `a<3`,
// comma-separated (all must hold). Keys and values are checked as label keys and values.
// NULL or "" selects everything. SL_EPARSE with a message on malformed input.
int sl_sel_parse_labels(const char *s, sl_sel_t *out, sl_err_t *err);
// Field selector: `path=v`, `path==v`, `path!=v`, comma-separated; `\,` `\=` `\\` escape.
int sl_sel_parse_fields(const char *s, sl_sel_t *out, sl_err_t *err);
void sl_sel_deinit(sl_sel_t *s);

// Matches a labels object (metadata.labels, NULL when absent).
int sl_sel_match_labels(const sl_sel_t *s, const sl_json_t *labels);
// Matches an object's fields by dotted path (metadata.name, status.phase, involvedObject.uid);
// a missing field reads as "", numbers and booleans as their text.
int sl_sel_match_fields(const sl_sel_t *s, const sl_json_t *obj);
// The value a field selector reads at path (into buf), for callers that index by field.
const char *sl_sel_field_value(const sl_json_t *obj, const char *path, char *buf, size_t n);

// {matchLabels, matchExpressions} as "a=b,c in (x,y)". NULL when out of memory or malformed.
char *sl_sel_format(const sl_json_t *label_selector);
// Whether a LabelSelector object selects these labels (an empty selector selects everything).
int sl_sel_object_matches(const sl_json_t *label_selector, const sl_json_t *labels);
