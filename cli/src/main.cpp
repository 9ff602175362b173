// berth: the command-line client. `berth run [flags] -- COMMAND [ARGS...]` runs one
// command as a task on a Berth (or Mesos) cluster, like mesos-execute.

#include "app.hpp"

int main(int argc, char** argv) { return berth::cli::berth_main(argc, argv); }
