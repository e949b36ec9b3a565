/* Compiled fast path of sse_doctor.sse.parser: interprets whole SSE blocks.
 *
 * Why C: in pure Python every event costs several interpreted steps (a regex match
 * that scans each byte in the sre engine, slices, decodes, branches), which holds the
 * parser near a tenth of a bare bytes.split(b"\n"). Here memchr finds the lines and
 * each field is decoded straight from the buffer. It is optional: when it cannot be
 * built, parser.py runs its pure-Python path, and the tests check both give the same
 * items for any input.
 *
 * It installs as the top-level module _sse_doctor_blockscan, not inside the package, so
 * that running from a checkout (where ./sse_doctor shadows the installed package, as
 * `python -m pytest` does) still finds the installed build.
 *
 * scan_blocks(buf, start, end, max_data) -> list
 *
 * buf[start:end] must be whole blocks: it is empty or ends with a blank line ("\n\n"),
 * starts at a line start, and CR line ends are already LF (the parser normalises them).
 * The parser calls it only with no event under way, so every block starts from a clean
 * event (empty data and event-type buffers). Each block (lines up to a blank line; a
 * stray blank line between blocks changes nothing and is skipped) becomes one item:
 *
 *   (comments, id, type, data, size)   the block holds only comment, id, event and data
 *       lines, every value is valid UTF-8, no id contains NUL and the data is at most
 *       max_data bytes. comments: tuple of str (text after the ':') or None;
 *       id: str of the last id line or None; type, data: str, or None when there is no
 *       data line (no event is dispatched); size: bytes of data.
 *   bytes  any other block, without its final line end, for the line-by-line path
 *       (retry and unknown fields, diagnostics, truncation).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* A block with more lines of one kind than this goes to the Python path. */
#define MAX_LINES 64

typedef struct {
    const char *p;
    Py_ssize_t n;
} span;

typedef struct {
    span data[MAX_LINES];
    int ndata;
    Py_ssize_t dsize; /* data bytes plus one LF per line */
    span com[MAX_LINES];
    int ncom;
    span id;
    int has_id;
    span type;
} block;

static PyObject *MESSAGE; /* "message": the type of an event without an event field */

/* Record one line [p, p + n) of a block. 0: the block needs the Python path. */
static int
take_line(block *b, const char *p, Py_ssize_t n)
{
    const char *v;
    Py_ssize_t vn;
    if (n <= 0)
        return 0;
    if (p[0] == ':') {
        if (b->ncom == MAX_LINES)
            return 0;
        b->com[b->ncom].p = p + 1;
        b->com[b->ncom].n = n - 1;
        b->ncom++;
        return 1;
    }
    if (n >= 5 && memcmp(p, "data:", 5) == 0) {
        v = p + 5;
        vn = n - 5;
    }
    else if (n >= 3 && memcmp(p, "id:", 3) == 0) {
        v = p + 3;
        vn = n - 3;
    }
    else if (n >= 6 && memcmp(p, "event:", 6) == 0) {
        v = p + 6;
        vn = n - 6;
    }
    else {
        return 0; /* retry, an unknown field, or a line without a colon */
    }
    if (vn && *v == ' ') { /* exactly one leading space is not part of the value */
        v++;
        vn--;
    }
    switch (p[0]) {
    case 'd':
        if (b->ndata == MAX_LINES)
            return 0;
        b->data[b->ndata].p = v;
        b->data[b->ndata].n = vn;
        b->ndata++;
        b->dsize += vn + 1;
        return 1;
    case 'i':
        /* NUL: the spec ignores the line and the Python path reports it. A second id
         * line: the Python path checks every id line's UTF-8, not only the last. */
        if (b->has_id || (vn && memchr(v, '\0', vn) != NULL))
            return 0;
        b->id.p = v;
        b->id.n = vn;
        b->has_id = 1;
        return 1;
    default:
        b->type.p = v;
        b->type.n = vn;
        return 1;
    }
}

/* Strict UTF-8. NULL with no error set: invalid UTF-8 (the Python path reports it).
 * NULL with an error set: a real failure (memory). */
static PyObject *
decode(const char *p, Py_ssize_t n)
{
    PyObject *s = PyUnicode_DecodeUTF8(p, n, "strict");
    if (s == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
        PyErr_Clear();
    return s;
}

static PyObject *
join_data(const block *b)
{
    if (b->ndata == 1)
        return decode(b->data[0].p, b->data[0].n);
    PyObject *raw = PyBytes_FromStringAndSize(NULL, b->dsize - 1);
    if (raw == NULL)
        return NULL;
    char *w = PyBytes_AS_STRING(raw);
    for (int i = 0; i < b->ndata; i++) {
        if (i)
            *w++ = '\n';
        memcpy(w, b->data[i].p, b->data[i].n);
        w += b->data[i].n;
    }
    PyObject *s = decode(PyBytes_AS_STRING(raw), b->dsize - 1);
    Py_DECREF(raw);
    return s;
}

/* The item for a recorded block: a new tuple, or NULL (error set: failure; no error:
 * some value is not UTF-8, so the block takes the Python path). */
static PyObject *
block_item(const block *b)
{
    PyObject *item = PyTuple_New(5);
    PyObject *v;
    if (item == NULL)
        return NULL;
    if (b->ncom) {
        v = PyTuple_New(b->ncom);
        if (v == NULL)
            goto fail;
        PyTuple_SET_ITEM(item, 0, v);
        for (int i = 0; i < b->ncom; i++) {
            PyObject *s = decode(b->com[i].p, b->com[i].n);
            if (s == NULL)
                goto fail;
            PyTuple_SET_ITEM(v, i, s);
        }
    }
    else {
        PyTuple_SET_ITEM(item, 0, Py_NewRef(Py_None));
    }
    if (b->has_id) {
        v = decode(b->id.p, b->id.n);
        if (v == NULL)
            goto fail;
    }
    else {
        v = Py_NewRef(Py_None);
    }
    PyTuple_SET_ITEM(item, 1, v);
    if (b->ndata) {
        v = b->type.n ? decode(b->type.p, b->type.n) : Py_NewRef(MESSAGE);
        if (v == NULL)
            goto fail;
        PyTuple_SET_ITEM(item, 2, v);
        v = join_data(b);
        if (v == NULL)
            goto fail;
        PyTuple_SET_ITEM(item, 3, v);
        v = PyLong_FromSsize_t(b->dsize - 1);
        if (v == NULL)
            goto fail;
        PyTuple_SET_ITEM(item, 4, v);
    }
    else {
        PyTuple_SET_ITEM(item, 2, Py_NewRef(Py_None));
        PyTuple_SET_ITEM(item, 3, Py_NewRef(Py_None));
        PyTuple_SET_ITEM(item, 4, PyLong_FromLong(0));
    }
    return item;
fail:
    /* Unset slots are NULL, which tuple deallocation skips. */
    Py_DECREF(item);
    return NULL;
}

static PyObject *
scan_blocks(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t start, end, max_data, len;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "scan_blocks(buf, start, end, max_data)");
        return NULL;
    }
    if (!PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "scan_blocks: buf must be bytes");
        return NULL;
    }
    start = PyLong_AsSsize_t(args[1]);
    end = PyLong_AsSsize_t(args[2]);
    max_data = PyLong_AsSsize_t(args[3]);
    if (PyErr_Occurred())
        return NULL;
    const char *base = PyBytes_AS_STRING(args[0]);
    len = PyBytes_GET_SIZE(args[0]);
    if (start < 0 || start > end || end > len ||
        (end > start && (end - start < 2 || base[end - 1] != '\n' || base[end - 2] != '\n'))) {
        PyErr_SetString(PyExc_ValueError,
                        "scan_blocks: buf[start:end] must end with a blank line");
        return NULL;
    }
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    const char *p = base + start, *stop = base + end;
    block b;
    while (p < stop) {
        if (*p == '\n') {
            p++;
            continue;
        }
        b.ndata = b.ncom = b.has_id = 0;
        b.dsize = 0;
        b.type.n = 0;
        int ok = 1;
        const char *ls = p, *le;
        /* The region ends with "\n\n", so memchr always finds a line end before stop and
         * a non-empty line is never the last one. */
        for (;;) {
            le = memchr(ls, '\n', stop - ls);
            if (le == NULL) { /* unreachable given the check above */
                PyErr_SetString(PyExc_SystemError, "scan_blocks: no line end");
                goto fail;
            }
            if (le == ls)
                break;
            if (ok)
                ok = take_line(&b, ls, le - ls);
            ls = le + 1;
        }
        /* The block is [p, ls - 1); the blank line is at ls. */
        PyObject *item = NULL;
        if (ok && b.dsize - 1 <= max_data) {
            item = block_item(&b);
            if (item == NULL && PyErr_Occurred())
                goto fail;
        }
        if (item == NULL) {
            item = PyBytes_FromStringAndSize(p, ls - 1 - p);
            if (item == NULL)
                goto fail;
        }
        if (PyList_Append(out, item) < 0) {
            Py_DECREF(item);
            goto fail;
        }
        Py_DECREF(item);
        p = ls + 1;
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

static PyMethodDef methods[] = {
    {"scan_blocks", (PyCFunction)(void (*)(void))scan_blocks, METH_FASTCALL,
     "scan_blocks(buf, start, end, max_data) -> list of block items"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_sse_doctor_blockscan", "Compiled block scanner of the SSE parser.", -1,
    methods,
};

PyMODINIT_FUNC
PyInit__sse_doctor_blockscan(void)
{
    MESSAGE = PyUnicode_InternFromString("message");
    if (MESSAGE == NULL)
        return NULL;
    return PyModule_Create(&module);
}
