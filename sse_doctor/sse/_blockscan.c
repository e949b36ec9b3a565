/* Compiled fast path of sse_doctor.sse.parser: interprets whole SSE blocks.
 *
 * Why C: in pure Python every event costs several interpreted steps (a regex match
 * that scans each byte in the sre engine, slices, decodes, branches, the Event), which
 * holds the parser near a tenth of a bare bytes.split(b"\n"). Here memchr finds the
 * lines, each value is decoded straight from the buffer and the parser's own Event and
 * Comment objects are filled in. It is optional: when it cannot be built, parser.py
 * runs its pure-Python path, and the tests check both give the same items for any input.
 *
 * It installs as the top-level module _sse_doctor_blockscan, not inside the package, so
 * that running from a checkout (where ./sse_doctor shadows the installed package, as
 * `python -m pytest` does) still finds the installed build.
 *
 * lf_lines(chunk) -> bytes
 *     CRLF and lone CR line ends made LF (see the function).
 *
 * bind(Event, Comment)
 *     The parser's item classes (slots dataclasses): their fields are written by slot
 *     offset, as object.__new__ plus attribute stores would (the parser's Python fast
 *     path does the same, without __init__). Called once at import; see bind() for why a
 *     second bind to other classes is refused.
 *
 * scan_blocks(buf, start, end, max_data, last_id, retry, t, out) -> (pos, last_id)
 *     buf[start:end] must be whole blocks: starting at a line start, empty or ending
 *     with a blank line, CR line ends already LF. The parser calls it only with
 *     no event under way, so each block starts from clean data and event-type buffers.
 *     Blocks (lines up to a blank line; a stray blank line between blocks changes
 *     nothing and is skipped) that hold only comment, id, event and data lines, whose
 *     values are valid UTF-8, with at most one id line and no NUL in it, and at most
 *     max_data bytes of data, are appended to `out` as Comment(text, t) items and one
 *     Event(type, data, id, retry, t, False, size) when there is data. It stops at the
 *     first other block (retry and unknown fields, diagnostics, truncation: the parser's
 *     line loop takes it), returning its start, or `end`, and the last event ID then.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#include <structmember.h> /* PyMemberDef, T_OBJECT_EX, READONLY */

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

typedef struct {
    Py_ssize_t type, data, id, retry, t, truncated, size;
} event_slots;

static PyTypeObject *EVENT, *COMMENT; /* bound classes (strong references) */
static event_slots EV;
static Py_ssize_t COMMENT_TEXT, COMMENT_T;

/* Decoded event types: a stream uses a handful, so decode each once. */
#define TYPE_CACHE 16
#define TYPE_MAX 32
static struct {
    char name[TYPE_MAX];
    Py_ssize_t n;
    PyObject *str;
} types[TYPE_CACHE];
static int types_next;

static PyObject *
event_type(const span *name)
{
    if (name->n == 0)
        return Py_NewRef(MESSAGE);
    if (name->n > TYPE_MAX)
        return decode(name->p, name->n);
    for (int i = 0; i < TYPE_CACHE; i++) {
        if (types[i].str && types[i].n == name->n && memcmp(types[i].name, name->p, name->n) == 0)
            return Py_NewRef(types[i].str);
    }
    PyObject *s = decode(name->p, name->n);
    if (s == NULL)
        return NULL;
    int i = types_next;
    types_next = (types_next + 1) % TYPE_CACHE;
    Py_XSETREF(types[i].str, Py_NewRef(s));
    memcpy(types[i].name, name->p, name->n);
    types[i].n = name->n;
    return s;
}

#define SLOT(obj, off) (*(PyObject **)((char *)(obj) + (off)))

/* A new instance of a bound class, every slot NULL (set them all before use). */
static PyObject *
alloc(PyTypeObject *tp)
{
    return tp->tp_alloc(tp, 0);
}

/* Append the block's items to out. 1: done; 0: some value is not UTF-8 (nothing was
 * appended; the line loop takes the block); -1: error. */
static int
emit(const block *b, PyObject **lid, PyObject *retry, PyObject *t, PyObject *out)
{
    PyObject *com[MAX_LINES];
    PyObject *id = NULL, *type = NULL, *data = NULL, *size = NULL, *item;
    int n = 0, rc = -1;
    for (; n < b->ncom; n++) {
        com[n] = decode(b->com[n].p, b->com[n].n);
        if (com[n] == NULL)
            goto done;
    }
    if (b->has_id && (id = decode(b->id.p, b->id.n)) == NULL)
        goto done;
    if (b->ndata) {
        if ((type = event_type(&b->type)) == NULL || (data = join_data(b)) == NULL ||
            (size = PyLong_FromSsize_t(b->dsize - 1)) == NULL)
            goto done;
    }
    /* Every value decoded: now the items. */
    for (int i = 0; i < n; i++) {
        if ((item = alloc(COMMENT)) == NULL)
            goto fail;
        SLOT(item, COMMENT_TEXT) = com[i];
        com[i] = NULL;
        SLOT(item, COMMENT_T) = Py_NewRef(t);
        rc = PyList_Append(out, item);
        Py_DECREF(item);
        if (rc < 0)
            goto fail;
    }
    if (id != NULL) {
        Py_SETREF(*lid, id);
        id = NULL;
    }
    if (data != NULL) {
        if ((item = alloc(EVENT)) == NULL)
            goto fail;
        SLOT(item, EV.type) = type;
        SLOT(item, EV.data) = data;
        SLOT(item, EV.size) = size;
        type = data = size = NULL;
        SLOT(item, EV.id) = Py_NewRef(*lid);
        SLOT(item, EV.retry) = Py_NewRef(retry);
        SLOT(item, EV.t) = Py_NewRef(t);
        SLOT(item, EV.truncated) = Py_NewRef(Py_False);
        rc = PyList_Append(out, item);
        Py_DECREF(item);
        if (rc < 0)
            goto fail;
    }
    rc = 1;
    goto done;
fail:
    rc = -1;
done:
    if (rc == -1 && !PyErr_Occurred())
        rc = 0; /* a decode failed on invalid UTF-8 */
    for (int i = 0; i < n; i++)
        Py_XDECREF(com[i]);
    Py_XDECREF(id);
    Py_XDECREF(type);
    Py_XDECREF(data);
    Py_XDECREF(size);
    return rc;
}

static PyObject *
scan_blocks(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t start, end, max_data, len;
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError,
                        "scan_blocks(buf, start, end, max_data, last_id, retry, t, out)");
        return NULL;
    }
    if (EVENT == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "scan_blocks: bind() was not called");
        return NULL;
    }
    if (!PyBytes_Check(args[0]) || !PyUnicode_Check(args[4]) || !PyList_Check(args[7])) {
        PyErr_SetString(PyExc_TypeError,
                        "scan_blocks: buf must be bytes, last_id str and out a list");
        return NULL;
    }
    start = PyLong_AsSsize_t(args[1]);
    end = PyLong_AsSsize_t(args[2]);
    if (PyErr_Occurred())
        return NULL;
    max_data = PyLong_AsSsize_t(args[3]);
    if (max_data == -1 && PyErr_Occurred()) {
        /* A cap beyond any buffer (the parser never passes a negative one). */
        if (!PyErr_ExceptionMatches(PyExc_OverflowError))
            return NULL;
        PyErr_Clear();
        max_data = PY_SSIZE_T_MAX;
    }
    const char *base = PyBytes_AS_STRING(args[0]);
    len = PyBytes_GET_SIZE(args[0]);
    /* Its last line must be blank (or it is empty). */
    if (start < 0 || start > end || end > len ||
        (end > start && (base[end - 1] != '\n' || (end - 1 > start && base[end - 2] != '\n')))) {
        PyErr_SetString(PyExc_ValueError,
                        "scan_blocks: buf[start:end] must end with a blank line");
        return NULL;
    }
    PyObject *lid = Py_NewRef(args[4]), *retry = args[5], *t = args[6], *out = args[7];
    const char *p = base + start, *stop = base + end;
    block b;
    while (p < stop) {
        if (*p == '\n') {
            p++;
            continue;
        }
        b.ndata = b.ncom = b.has_id = 0;
        b.dsize = 0;
        b.type.p = NULL;
        b.type.n = 0;
        int ok = 1;
        const char *ls = p, *le;
        /* The region's last line is blank, so memchr always finds a line end before
         * stop and a non-empty line is never the last one. */
        for (;;) {
            le = memchr(ls, '\n', stop - ls);
            if (le == NULL) { /* unreachable given the check above */
                PyErr_SetString(PyExc_SystemError, "scan_blocks: no line end");
                goto fail;
            }
            if (le == ls)
                break;
            ok = take_line(&b, ls, le - ls);
            if (!ok)
                break;
            ls = le + 1;
        }
        if (ok) /* data over max_data: the line loop truncates it */
            ok = b.dsize - 1 <= max_data ? emit(&b, &lid, retry, t, out) : 0;
        if (ok < 0)
            goto fail;
        if (!ok)
            break; /* p: the start of a block for the line loop */
        p = ls + 1; /* past the blank line at ls */
    }
    return Py_BuildValue("(nN)", (Py_ssize_t)(p - base), lid);
fail:
    Py_DECREF(lid);
    return NULL;
}

/* lf_lines(chunk) -> bytes: CRLF and lone CR made LF, in one pass. bytes.replace does
 * it in two and pays a search set-up per line end, which doubled the parser's time on a
 * CRLF stream. Returns chunk itself when it holds no CR. */
static PyObject *
lf_lines(PyObject *module, PyObject *arg)
{
    if (!PyBytes_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "lf_lines: chunk must be bytes");
        return NULL;
    }
    const char *r = PyBytes_AS_STRING(arg), *end = r + PyBytes_GET_SIZE(arg);
    const char *cr = memchr(r, '\r', end - r);
    if (cr == NULL)
        return Py_NewRef(arg);
    PyObject *out = PyBytes_FromStringAndSize(NULL, end - r);
    if (out == NULL)
        return NULL;
    char *w = PyBytes_AS_STRING(out);
    while (cr != NULL) {
        memcpy(w, r, cr - r);
        w += cr - r;
        *w++ = '\n';
        r = cr + 1;
        if (r < end && *r == '\n')
            r++;
        cr = memchr(r, '\r', end - r);
    }
    memcpy(w, r, end - r);
    w += end - r;
    if (_PyBytes_Resize(&out, w - PyBytes_AS_STRING(out)) < 0)
        return NULL;
    return out;
}

static const char *EVENT_FIELDS[] = {"type", "data", "id", "retry", "t", "truncated", "size"};

/* The offset of a writable object slot named `name` of class `cls`, or -1 (error set). */
static Py_ssize_t
slot_offset(PyObject *cls, const char *name)
{
    PyObject *d = PyObject_GetAttrString(cls, name);
    Py_ssize_t off = -1;
    if (d == NULL)
        return -1;
    /* A writable object slot of cls itself (or a base): the offset is then inside every
     * instance of cls. */
    if (Py_IS_TYPE(d, &PyMemberDescr_Type) &&
        PyType_IsSubtype((PyTypeObject *)cls, ((PyMemberDescrObject *)d)->d_common.d_type)) {
        PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
        if (m->type == T_OBJECT_EX && !(m->flags & READONLY))
            off = m->offset;
    }
    if (off < 0)
        PyErr_Format(PyExc_TypeError, "bind: %R.%s is not a writable slot", cls, name);
    Py_DECREF(d);
    return off;
}

/* The classes are created with tp_alloc and their slots filled directly, as
 * object.__new__ would leave them: so they must take object's __new__. */
static int
plain_class(PyObject *cls)
{
    if (((PyTypeObject *)cls)->tp_new == PyBaseObject_Type.tp_new)
        return 1;
    PyErr_Format(PyExc_TypeError, "bind: %R has its own __new__", cls);
    return 0;
}

/* bind(Event, Comment). The bound classes live in this module's globals (one set per
 * process), so a second bind to other classes (a reload of the parser, a subinterpreter)
 * is refused; the parser then runs its pure-Python path there. */
static PyObject *
bind(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t off[7], text, t;
    if (nargs != 2 || !PyType_Check(args[0]) || !PyType_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "bind(Event, Comment)");
        return NULL;
    }
    if (EVENT != NULL) {
        if ((PyObject *)EVENT == args[0] && (PyObject *)COMMENT == args[1])
            Py_RETURN_NONE;
        PyErr_SetString(PyExc_RuntimeError, "bind: already bound to other classes");
        return NULL;
    }
    if (!plain_class(args[0]) || !plain_class(args[1]))
        return NULL;
    for (int i = 0; i < 7; i++) {
        if ((off[i] = slot_offset(args[0], EVENT_FIELDS[i])) < 0)
            return NULL;
        for (int j = 0; j < i; j++) {
            if (off[j] == off[i]) {
                PyErr_SetString(PyExc_TypeError, "bind: two Event fields share a slot");
                return NULL;
            }
        }
    }
    if ((text = slot_offset(args[1], "text")) < 0 || (t = slot_offset(args[1], "t")) < 0)
        return NULL;
    if (text == t) {
        PyErr_SetString(PyExc_TypeError, "bind: two Comment fields share a slot");
        return NULL;
    }
    EV = (event_slots){off[0], off[1], off[2], off[3], off[4], off[5], off[6]};
    COMMENT_TEXT = text;
    COMMENT_T = t;
    Py_XSETREF(EVENT, (PyTypeObject *)Py_NewRef(args[0]));
    Py_XSETREF(COMMENT, (PyTypeObject *)Py_NewRef(args[1]));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"scan_blocks", (PyCFunction)(void (*)(void))scan_blocks, METH_FASTCALL,
     "scan_blocks(buf, start, end, max_data, last_id, retry, t, out) -> (pos, last_id)"},
    {"lf_lines", lf_lines, METH_O, "lf_lines(chunk) -> chunk with CRLF and CR as LF"},
    {"bind", (PyCFunction)(void (*)(void))bind, METH_FASTCALL,
     "bind(Event, Comment): the classes of the items scan_blocks makes"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_sse_doctor_blockscan",
    .m_doc = "Compiled block scanner of the SSE parser.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__sse_doctor_blockscan(void)
{
    MESSAGE = PyUnicode_InternFromString("message");
    if (MESSAGE == NULL)
        return NULL;
    return PyModule_Create(&module);
}
