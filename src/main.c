#include <stdio.h>
int main(void) { puts("fleetmq: not yet"); return 1; }
