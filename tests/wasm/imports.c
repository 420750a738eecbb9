/* Needs a host function no WASI runtime provides (env.zonebox_missing):
 * zonebox must refuse it before starting anything (exit 126). */
__attribute__((import_module("env"), import_name("zonebox_missing"))) int zonebox_missing(void);

int main(void)
{
        return zonebox_missing();
}
