/* A reactor (library) module: it exports functions but no _start, so it is
 * no WASI command; built with -mexec-model=reactor (Makefile). */
__attribute__((export_name("add"))) int add(int a, int b)
{
        return a + b;
}
