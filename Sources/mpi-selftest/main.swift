print("mpi-selftest")
