/* print.c — how a tensor and its size read in a REPL, as in Torch7:
 *
 *   > print(lunet.tensor{{1.5, 20000}, {3, 40000}})
 *   1e+04 *
 *    0.0002  2.0000
 *    0.0003  4.0000
 *   [lunet float tensor of size (2,2)]
 *
 * One format serves the whole tensor, chosen from the elements shown (a dimension longer
 * than 2*EDGE shows its first and last EDGE entries around a "..."):
 *   - integers (an int tensor, or a float one whose shown values are whole and below
 *     1e9) print without decimals;
 *   - otherwise fixed point with 4 decimals, the whole tensor divided by one power of ten
 *     (the "1e+04 *" line) when its largest magnitude is 1e4 or more or below 0.1, so that
 *     the largest reads between 1 and 10; values many decades below it then read as
 *     0.0000, as in Torch7;
 *   - NaN and infinities print as nan, inf, -inf and take no part in the choice.
 * A matrix prints as rows of its last dimension; a tensor of 3 dimensions or more as its
 * matrices, each headed by its index as Torch7 does: "(2,1,.,.) =". */
#include <math.h>
#include <string.h>

#include "lua_lunet.h"

#define EDGE 3 /* entries shown at each end of an abbreviated dimension */

/* The element at offset off of t's storage (relative to t's own offset), any dtype. */
static double element(const lt_tensor *t, int64_t off) { return lt_get(t, off); }

/* What the walk over the shown elements does at each one: gather statistics, measure the
 * formatted width, or print. */
typedef enum { SCAN, MEASURE, PRINT } pass;

typedef struct {
  pass pass;
  luaL_Buffer *b;
  /* SCAN: over the finite shown elements */
  double maxabs;
  int whole; /* every one an integer */
  /* the format */
  int integers;
  double scale;
  int width;
  int64_t index[LT_MAXDIM]; /* 1-based index of the matrix being printed, for its header */
} printer;

static int format(const printer *p, double v, char *s, size_t n) {
  if (isnan(v)) return snprintf(s, n, "nan");
  if (isinf(v)) return snprintf(s, n, v > 0 ? "inf" : "-inf");
  if (p->integers) return snprintf(s, n, "%.0f", v + 0.0); /* + 0.0: no "-0" */
  return snprintf(s, n, "%.4f", v / p->scale);
}

static void visit(printer *p, double v) {
  char s[64];
  switch (p->pass) {
  case SCAN:
    if (isfinite(v)) {
      if (fabs(v) > p->maxabs) p->maxabs = fabs(v);
      if (v != floor(v)) p->whole = 0;
    }
    break;
  case MEASURE: {
    int w = format(p, v, s, sizeof s);
    if (w > p->width) p->width = w;
    break;
  }
  case PRINT:
    format(p, v, s, sizeof s);
    for (int pad = p->width - (int)strlen(s); pad > 0; pad--) luaL_addchar(p->b, ' ');
    luaL_addstring(p->b, s);
    break;
  }
}

static void add(printer *p, const char *s) {
  if (p->pass == PRINT) luaL_addstring(p->b, s);
}

/* The shown elements of dimension d onward, from storage offset off. */
static void walk(printer *p, const lt_tensor *t, int d, int64_t off) {
  int64_t n = t->size[d];
  int last = d == t->ndim - 1;
  for (int64_t i = 0; i < n; i++) {
    if (n > 2 * EDGE && i == EDGE) {
      add(p, last ? "  ..." : " ...\n");
      i = n - EDGE - 1;
      continue;
    }
    int64_t at = off + i * t->stride[d];
    if (last) {
      add(p, i ? " " : "");
      visit(p, element(t, at));
      continue;
    }
    if (d < t->ndim - 2) { /* a matrix of 3-D and more: "(i,j,.,.) =" heads it */
      p->index[d] = i + 1;
      if (d == t->ndim - 3) {
        add(p, "(");
        for (int k = 0; k <= d && p->pass == PRINT; k++) {
          char s[32];
          snprintf(s, sizeof s, "%lld,", (long long)p->index[k]);
          luaL_addstring(p->b, s);
        }
        add(p, ".,.) =\n");
      }
    }
    walk(p, t, d + 1, at);
    if (d == t->ndim - 2) add(p, "\n");
    else if (d == t->ndim - 3) add(p, "\n");
  }
}

/* The elements (nothing for an empty tensor), then the header line. */
static void print_tensor(luaL_Buffer *b, const lt_tensor *t) {
  printer p = {.pass = SCAN, .b = b, .maxabs = 0.0, .whole = 1, .scale = 1.0};
  int64_t n = lt_numel(t);
  if (n > 0) {
    if (t->ndim == 0) visit(&p, element(t, 0));
    else walk(&p, t, 0, 0);
    p.integers = t->dtype == LT_INT || (p.whole && p.maxabs < 1e9);
    if (!p.integers && p.maxabs > 0 && (p.maxabs >= 1e4 || p.maxabs < 0.1))
      p.scale = pow(10.0, floor(log10(p.maxabs)));
    p.pass = MEASURE;
    if (t->ndim == 0) visit(&p, element(t, 0));
    else walk(&p, t, 0, 0);
    p.pass = PRINT;
    if (p.scale != 1.0) {
      char s[32];
      snprintf(s, sizeof s, "%.0e *\n", p.scale);
      luaL_addstring(b, s);
    }
    if (t->ndim == 0) visit(&p, element(t, 0));
    else walk(&p, t, 0, 0);
    if (t->ndim <= 1) luaL_addchar(b, '\n');
  }
  char shape[200], line[260];
  snprintf(line, sizeof line, "[lunet %s tensor of size %s]", lunet_dtypename(t->dtype),
           lt_shape_str(t, shape, sizeof shape));
  luaL_addstring(b, line);
}

int lunet_tostring(lua_State *L) {
  lt_tensor *t = luaL_checkudata(L, 1, LUNET_TENSOR_MT);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  if (!t->base)
    luaL_addstring(&b, "[lunet tensor (released)]");
  else
    print_tensor(&b, t);
  luaL_pushresult(&b);
  return 1;
}

/* ---------------------------------------------------------------- sizes */

/* A size is a plain list of integers whose metatable prints it as "(2,3)" and compares it
 * entry by entry, with another size or a plain list. Functions that take a shape read its
 * entries, so it goes wherever a list of sizes does. */
static int size_tostring(lua_State *L) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addchar(&b, '(');
  lua_Integer n = luaL_len(L, 1);
  for (lua_Integer i = 1; i <= n; i++) {
    if (i > 1) luaL_addchar(&b, ',');
    lua_geti(L, 1, i);
    luaL_addvalue(&b);
  }
  luaL_addchar(&b, ')');
  luaL_pushresult(&b);
  return 1;
}

static int size_eq(lua_State *L) {
  int equal = lua_istable(L, 1) && lua_istable(L, 2) && luaL_len(L, 1) == luaL_len(L, 2);
  for (lua_Integer i = 1, n = equal ? luaL_len(L, 1) : 0; i <= n && equal; i++) {
    lua_geti(L, 1, i);
    lua_geti(L, 2, i);
    equal = lua_rawequal(L, -1, -2) || lua_compare(L, -1, -2, LUA_OPEQ);
    lua_pop(L, 2);
  }
  lua_pushboolean(L, equal);
  return 1;
}

static int is_size(lua_State *L, int idx) {
  if (!lua_getmetatable(L, idx)) return 0;
  luaL_getmetatable(L, LUNET_SIZE_MT);
  int yes = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return yes;
}

/* "size " .. s, s .. "": a size joins strings as it prints. */
static int size_concat(lua_State *L) {
  for (int i = 1; i <= 2; i++) {
    if (is_size(L, i)) {
      lua_pushcfunction(L, size_tostring);
      lua_pushvalue(L, i);
      lua_call(L, 1, 1);
      lua_replace(L, i);
    } else if (lua_type(L, i) != LUA_TSTRING && lua_type(L, i) != LUA_TNUMBER) {
      luaL_error(L, "attempt to concatenate a size with a %s value", luaL_typename(L, i));
    }
  }
  lua_concat(L, 2);
  return 1;
}

void lunet_pushsize(lua_State *L, int ndim, const int64_t *size) {
  lua_createtable(L, ndim, 0);
  for (int i = 0; i < ndim; i++) {
    lua_pushinteger(L, size[i]);
    lua_rawseti(L, -2, i + 1);
  }
  if (luaL_newmetatable(L, LUNET_SIZE_MT)) {
    static const luaL_Reg meta[] = {
        {"__tostring", size_tostring}, {"__eq", size_eq}, {"__concat", size_concat}, {NULL, NULL}};
    luaL_setfuncs(L, meta, 0);
  }
  lua_setmetatable(L, -2);
}
