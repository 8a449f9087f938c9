/* map_normalfile1.c, verbatim from the seed article (shared/seed/mmap-shared-memory.md):
 * the writer. tests/seed.rs compiles it and swaps it for `ipcbench seed writer`. */
#include <sys/mman.h>
#include <sys/types.h>
#include <fcntl.h>
#include <unistd.h>
#include "stdio.h"
#include "string.h"

typedef struct {
    char name[4];
    int age;
} people;

int main ( int argc, char **argv ) {
    int fd, i;
    people *p_map;
    char temp;
    fd = open ( argv[1], O_CREAT | O_RDWR | O_TRUNC, 00777 );
    lseek ( fd, sizeof ( people ) * 5 - 1, SEEK_SET );
    write ( fd, " ", 1 );
    p_map = ( people * ) mmap ( NULL, sizeof ( people ) * 10, \
                                PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0 );
    close ( fd );
    temp = 'a';

    for ( i = 0; i < 10; i++ ) {
        sprintf ( ( * ( p_map + i ) ).name, "%c", temp );
        ( * ( p_map + i ) ).age = 20 + i;
        temp += 1;
    }

    printf ( "initialize over\n" );
    sleep ( 10 );
    munmap ( p_map, sizeof ( people ) * 10 );
    printf ( "umap ok\n" );
}
