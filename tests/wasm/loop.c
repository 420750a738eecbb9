/* Never ends: the wall-time (or CPU-time) limit must stop it. */
int main(void)
{
        volatile unsigned long n = 0;
        for (;;)
                n++;
}
