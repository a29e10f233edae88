/* The iJw reader's one pass over a parsed message, compiled: what `_walk_python` in ijw.py
 * does, byte for byte, read straight from the libxml2 tree under an lxml element.
 *
 * walk(root, steps) returns (hashed, first, more, items): the UTF-8 text whose sha256 is the
 * content hash, and the stripped text of every element by its position (see `_Doc`). It returns
 * None for what it leaves to the Python walk: anything but plain elements, text and attributes
 * (entity references, attribute values in several nodes), more than a few indexed tags under
 * one parent, or an absurd depth. The tests run both walks over every message they have and
 * demand the same answer.
 *
 * It reads lxml's element struct (the head of `struct LxmlElement` in lxml's etree.h) and
 * libxml2's node structs from the headers lxml ships; ijw.py uses it only when it was built
 * against the lxml version that runs. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <libxml/tree.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    PyObject *_doc;
    xmlNode *_c_node;
    PyObject *_tag;
} LxmlElement;

enum { OK = 0, FAILED = -1, FALLBACK = 1 };
enum { MAX_DEPTH = 1024, MAX_ATTRIBUTES = 64, MAX_COUNTED = 8 };

typedef struct {
    char *data;
    Py_ssize_t len, cap;
} Buf;

static int grow(Buf *b, Py_ssize_t extra) {
    if (b->len + extra <= b->cap)
        return OK;
    Py_ssize_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra)
        cap *= 2;
    char *data = PyMem_Realloc(b->data, cap);
    if (data == NULL) {
        PyErr_NoMemory();
        return FAILED;
    }
    b->data = data;
    b->cap = cap;
    return OK;
}

static int add(Buf *b, const char *s, Py_ssize_t n) {
    if (grow(b, n) < 0)
        return FAILED;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return OK;
}

#define ADD_LITERAL(b, s) add((b), (s), (Py_ssize_t)sizeof(s) - 1)

/* One code point from valid UTF-8 (libxml2 hands out nothing else); *n is its length. */
static unsigned int decode(const unsigned char *s, Py_ssize_t *n) {
    unsigned int c = s[0];
    if (c < 0x80) {
        *n = 1;
        return c;
    }
    if (c < 0xE0) {
        *n = 2;
        return ((c & 0x1F) << 6) | (s[1] & 0x3F);
    }
    if (c < 0xF0) {
        *n = 3;
        return ((c & 0x0F) << 12) | ((s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    }
    *n = 4;
    return ((c & 0x07) << 18) | ((s[1] & 0x3F) << 12) | ((s[2] & 0x3F) << 6) | (s[3] & 0x3F);
}

/* str.isspace(): Python's whitespace, ASCII and beyond. */
static int space(unsigned int c) {
    if (c < 0x80)
        return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1C && c <= 0x1F);
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* str.strip() of UTF-8 text. */
static void strip(const char **text, Py_ssize_t *len) {
    const unsigned char *s = (const unsigned char *)*text;
    Py_ssize_t start = 0, end = *len, n;
    while (start < end && space(decode(s + start, &n)))
        start += n;
    while (end > start) {
        Py_ssize_t last = end - 1;
        while (last > start && (s[last] & 0xC0) == 0x80) /* back to the character's first byte */
            last--;
        if (!space(decode(s + last, &n)))
            break;
        end = last;
    }
    *text = (const char *)s + start;
    *len = end - start;
}

/* json.encoder.encode_basestring_ascii of UTF-8 text. */
static int add_json(Buf *b, const char *text, Py_ssize_t len) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)text;
    if (grow(b, len * 12 + 2) < 0)
        return FAILED;
    char *out = b->data + b->len;
    *out++ = '"';
    for (Py_ssize_t i = 0; i < len;) {
        Py_ssize_t n;
        unsigned int c = decode(s + i, &n);
        i += n;
        if (c >= ' ' && c <= '~' && c != '"' && c != '\\') {
            *out++ = (char)c;
            continue;
        }
        *out++ = '\\';
        switch (c) {
        case '"': *out++ = '"'; continue;
        case '\\': *out++ = '\\'; continue;
        case '\b': *out++ = 'b'; continue;
        case '\f': *out++ = 'f'; continue;
        case '\n': *out++ = 'n'; continue;
        case '\r': *out++ = 'r'; continue;
        case '\t': *out++ = 't'; continue;
        }
        if (c >= 0x10000) {
            unsigned int v = c - 0x10000;
            unsigned int high = 0xD800 | (v >> 10), low = 0xDC00 | (v & 0x3FF);
            *out++ = 'u';
            for (int shift = 12; shift >= 0; shift -= 4)
                *out++ = hex[(high >> shift) & 0xF];
            *out++ = '\\';
            c = low;
        }
        *out++ = 'u';
        for (int shift = 12; shift >= 0; shift -= 4)
            *out++ = hex[(c >> shift) & 0xF];
    }
    *out++ = '"';
    b->len = out - b->data;
    return OK;
}

/* The JSON string of a tag or attribute name: `{href}name`, or the name without a namespace. */
static int add_json_name(Buf *b, Buf *scratch, const xmlNs *ns, const xmlChar *name) {
    if (ns == NULL || ns->href == NULL)
        return add_json(b, (const char *)name, (Py_ssize_t)strlen((const char *)name));
    scratch->len = 0;
    if (ADD_LITERAL(scratch, "{") < 0 ||
        add(scratch, (const char *)ns->href, (Py_ssize_t)strlen((const char *)ns->href)) < 0 ||
        ADD_LITERAL(scratch, "}") < 0 ||
        add(scratch, (const char *)name, (Py_ssize_t)strlen((const char *)name)) < 0)
        return FAILED;
    return add_json(b, scratch->data, scratch->len);
}

typedef struct {
    Buf hashed, position, text, name;
    PyObject *first, *more, *items;
    const char **steps;
    Py_ssize_t nsteps;
} Walk;

/* lxml's `.text`: the text and CDATA nodes before the first other child (XInclude markers
 * skipped), joined; in walk->text. */
static int element_text(Walk *w, const xmlNode *el) {
    w->text.len = 0;
    for (const xmlNode *n = el->children; n != NULL; n = n->next) {
        if (n->type == XML_XINCLUDE_START || n->type == XML_XINCLUDE_END)
            continue;
        if (n->type != XML_TEXT_NODE && n->type != XML_CDATA_SECTION_NODE)
            break;
        if (n->content != NULL &&
            add(&w->text, (const char *)n->content, (Py_ssize_t)strlen((const char *)n->content)) < 0)
            return FAILED;
    }
    return OK;
}

typedef struct {
    const xmlAttr *attr;
    const char *key; /* in add_attributes' `keys` */
} Attribute;

static int same_ns(const xmlNs *a, const xmlNs *b) {
    const xmlChar *ha = a ? a->href : NULL, *hb = b ? b->href : NULL;
    if (ha == NULL || hb == NULL)
        return ha == hb;
    return strcmp((const char *)ha, (const char *)hb) == 0;
}

/* The element's attributes, `[[k, v], ...]` sorted by key (keys are unique on an element). */
static int add_attributes(Walk *w, const xmlNode *el) {
    Attribute found[MAX_ATTRIBUTES];
    int count = 0;
    Buf keys = {0};
    Py_ssize_t offsets[MAX_ATTRIBUTES];
    int status = OK;
    for (const xmlAttr *a = el->properties; a != NULL; a = a->next) {
        if (a->type != XML_ATTRIBUTE_NODE)
            continue;
        const xmlNode *value = a->children;
        if (count == MAX_ATTRIBUTES ||
            (value != NULL && (value->type != XML_TEXT_NODE || value->next != NULL))) {
            status = FALLBACK;
            goto done;
        }
        offsets[count] = keys.len;
        if ((a->ns != NULL && a->ns->href != NULL &&
             (ADD_LITERAL(&keys, "{") < 0 ||
              add(&keys, (const char *)a->ns->href, (Py_ssize_t)strlen((const char *)a->ns->href)) < 0 ||
              ADD_LITERAL(&keys, "}") < 0)) ||
            add(&keys, (const char *)a->name, (Py_ssize_t)strlen((const char *)a->name) + 1) < 0) {
            status = FAILED;
            goto done;
        }
        found[count++].attr = a;
    }
    for (int i = 0; i < count; i++)
        found[i].key = keys.data + offsets[i];
    for (int i = 1; i < count; i++) { /* insertion sort: a handful at most */
        Attribute item = found[i];
        int j = i - 1;
        while (j >= 0 && strcmp(found[j].key, item.key) > 0) {
            found[j + 1] = found[j];
            j--;
        }
        found[j + 1] = item;
    }
    for (int i = 0; i < count; i++) {
        const xmlNode *value = found[i].attr->children;
        const char *v = value && value->content ? (const char *)value->content : "";
        if ((i > 0 && ADD_LITERAL(&w->hashed, ", ") < 0) || ADD_LITERAL(&w->hashed, "[") < 0 ||
            add_json(&w->hashed, found[i].key, (Py_ssize_t)strlen(found[i].key)) < 0 ||
            ADD_LITERAL(&w->hashed, ", ") < 0 ||
            add_json(&w->hashed, v, (Py_ssize_t)strlen(v)) < 0 || ADD_LITERAL(&w->hashed, "]") < 0) {
            status = FAILED;
            goto done;
        }
    }
done:
    PyMem_Free(keys.data);
    return status;
}

/* first[position] = text, or the text appended to more[position] when one is there. */
static int index_text(Walk *w, const char *text, Py_ssize_t len) {
    PyObject *position = PyUnicode_DecodeUTF8(w->position.data, w->position.len, NULL);
    PyObject *value = position ? PyUnicode_DecodeUTF8(text, len, NULL) : NULL;
    int status = FAILED;
    if (value == NULL)
        goto done;
    PyObject *earlier = PyDict_GetItemWithError(w->first, position); /* borrowed */
    if (earlier == NULL) {
        if (PyErr_Occurred() || PyDict_SetItem(w->first, position, value) < 0)
            goto done;
    } else {
        PyObject *all = PyDict_GetItemWithError(w->more, position); /* borrowed */
        if (all == NULL) {
            if (PyErr_Occurred() || (all = PyList_New(0)) == NULL)
                goto done;
            int stored = PyList_Append(all, earlier) < 0 ? -1 : PyDict_SetItem(w->more, position, all);
            Py_DECREF(all);
            if (stored < 0)
                goto done;
        }
        if (PyList_Append(all, value) < 0)
            goto done;
    }
    status = OK;
done:
    Py_XDECREF(position);
    Py_XDECREF(value);
    return status;
}

static int is_indexed(const Walk *w, const char *name) {
    return strcmp(name, "Client") == 0 ||
           (w->nsteps > 0 && strcmp(name, w->steps[w->nsteps - 1]) == 0);
}

typedef struct {
    const xmlNs *ns;
    const xmlChar *name;
    long count;
} Counted;

/* `matched`: how many steps of the items' path lead here (-1: none do). */
static int walk(Walk *w, const xmlNode *el, Py_ssize_t matched, int depth) {
    if (depth > MAX_DEPTH)
        return FALLBACK;
    int status;
    if (ADD_LITERAL(&w->hashed, "[") < 0 || add_json_name(&w->hashed, &w->name, el->ns, el->name) < 0 ||
        ADD_LITERAL(&w->hashed, ", [") < 0)
        return FAILED;
    if ((status = add_attributes(w, el)) != OK)
        return status;
    if ((status = element_text(w, el)) != OK)
        return status;
    const char *text = w->text.data ? w->text.data : "";
    Py_ssize_t len = w->text.len;
    strip(&text, &len);
    if (ADD_LITERAL(&w->hashed, "], ") < 0 || add_json(&w->hashed, text, len) < 0 ||
        ADD_LITERAL(&w->hashed, "]") < 0)
        return FAILED;
    if (index_text(w, text, len) < 0)
        return FAILED;
    if (matched == w->nsteps && w->nsteps > 0) {
        PyObject *position = PyUnicode_DecodeUTF8(w->position.data, w->position.len, NULL);
        int appended = position ? PyList_Append(w->items, position) : -1;
        Py_XDECREF(position);
        if (appended < 0)
            return FAILED;
    }
    Counted seen[MAX_COUNTED];
    int nseen = 0;
    Py_ssize_t parent_len = w->position.len;
    for (const xmlNode *child = el->children; child != NULL; child = child->next) {
        switch (child->type) {
        case XML_ELEMENT_NODE:
            break;
        case XML_TEXT_NODE: case XML_CDATA_SECTION_NODE: case XML_COMMENT_NODE:
        case XML_PI_NODE: case XML_XINCLUDE_START: case XML_XINCLUDE_END:
            continue;
        default: /* an entity reference, ... */
            return FALLBACK;
        }
        const char *name = (const char *)child->name;
        Py_ssize_t name_len = (Py_ssize_t)strlen(name);
        if (ADD_LITERAL(&w->position, "/") < 0 || add(&w->position, name, name_len) < 0)
            return FAILED;
        if (is_indexed(w, name)) {
            int i = 0;
            while (i < nseen && !(same_ns(seen[i].ns, child->ns) &&
                                  strcmp((const char *)seen[i].name, name) == 0))
                i++;
            if (i == nseen) {
                if (nseen == MAX_COUNTED)
                    return FALLBACK;
                seen[nseen++] = (Counted){child->ns, child->name, 0};
            }
            char step[32];
            int n = snprintf(step, sizeof step, "[%ld]", ++seen[i].count);
            if (add(&w->position, step, n) < 0)
                return FAILED;
        }
        int on = matched >= 0 && matched < w->nsteps && strcmp(w->steps[matched], name) == 0;
        if ((status = walk(w, child, on ? matched + 1 : -1, depth + 1)) != OK)
            return status;
        w->position.len = parent_len;
    }
    return ADD_LITERAL(&w->hashed, ")");
}

static PyTypeObject *element_type;

static PyObject *py_walk(PyObject *module, PyObject *args) {
    PyObject *root, *steps;
    if (!PyArg_ParseTuple(args, "OO!:walk", &root, &PyTuple_Type, &steps))
        return NULL;
    if (!PyObject_TypeCheck(root, element_type)) {
        PyErr_SetString(PyExc_TypeError, "walk() needs an lxml element");
        return NULL;
    }
    const xmlNode *el = ((LxmlElement *)root)->_c_node;
    if (el == NULL || el->type != XML_ELEMENT_NODE)
        Py_RETURN_NONE;
    Walk w = {0};
    PyObject *result = NULL;
    w.nsteps = PyTuple_GET_SIZE(steps);
    w.steps = PyMem_Calloc(w.nsteps ? w.nsteps : 1, sizeof(char *));
    w.first = PyDict_New();
    w.more = PyDict_New();
    w.items = PyList_New(0);
    if (w.steps == NULL || w.first == NULL || w.more == NULL || w.items == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < w.nsteps; i++) {
        PyObject *step = PyTuple_GET_ITEM(steps, i);
        if (!PyUnicode_Check(step)) {
            PyErr_SetString(PyExc_TypeError, "walk() needs steps as strings");
            goto done;
        }
        if ((w.steps[i] = PyUnicode_AsUTF8(step)) == NULL)
            goto done;
    }
    if (ADD_LITERAL(&w.position, "/") < 0 ||
        add(&w.position, (const char *)el->name, (Py_ssize_t)strlen((const char *)el->name)) < 0)
        goto done;
    int status = walk(&w, el, 0, 0);
    if (status == FAILED)
        goto done;
    if (status == FALLBACK) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    PyObject *hashed = PyBytes_FromStringAndSize(w.hashed.data, w.hashed.len);
    if (hashed != NULL)
        result = PyTuple_Pack(4, hashed, w.first, w.more, w.items);
    Py_XDECREF(hashed);
done:
    PyMem_Free(w.steps);
    PyMem_Free(w.hashed.data);
    PyMem_Free(w.position.data);
    PyMem_Free(w.text.data);
    PyMem_Free(w.name.data);
    Py_XDECREF(w.first);
    Py_XDECREF(w.more);
    Py_XDECREF(w.items);
    return result;
}

static PyMethodDef methods[] = {
    {"walk", py_walk, METH_VARARGS,
     "walk(root, steps) -> (hashed, first, more, items), or None to leave it to Python"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "hub.adapters._ijw_walk", NULL, -1, methods,
};

PyMODINIT_FUNC PyInit__ijw_walk(void) {
    PyObject *etree = PyImport_ImportModule("lxml.etree");
    if (etree == NULL)
        return NULL;
    element_type = (PyTypeObject *)PyObject_GetAttrString(etree, "_Element");
    Py_DECREF(etree);
    if (element_type == NULL)
        return NULL;
    PyObject *module = PyModule_Create(&module_def);
    if (module != NULL && PyModule_AddStringConstant(module, "LXML_VERSION", HUB_LXML_VERSION) < 0)
        Py_CLEAR(module);
    return module;
}
