#include <mpi.h>

// MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, MPI_IN_PLACE…) are macros: in Open MPI
// addresses of global objects cast to handle types, which Swift does not import. These
// functions give them to Swift, whatever the MPI implementation's representation.
static inline MPI_Comm kiln_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype kiln_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype kiln_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Op kiln_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op kiln_mpi_max(void) { return MPI_MAX; }
static inline void *kiln_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Info kiln_mpi_info_null(void) { return MPI_INFO_NULL; }
static inline int kiln_mpi_comm_type_shared(void) { return MPI_COMM_TYPE_SHARED; }
static inline int kiln_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int kiln_mpi_success(void) { return MPI_SUCCESS; }
