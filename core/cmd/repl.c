// sluice repl: connects to a running controller (`sluice run`) and runs lines there: one with
// -e, lines from stdin when it is not a terminal, or an interactive session with line editing,
// completion and history. Exit 0 ok, 1 a line failed, 2 bad usage or no connection.
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cmd/repl.h"

#include "core/cmd/cmd.h"
#include "core/repl/client.h"
#include "core/repl/sockpath.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: sluice repl [--socket PATH] [-e LINE]\n"
          "  -s, --socket PATH   the controller's REPL socket (default: where `sluice run`\n"
          "                      puts it: $XDG_RUNTIME_DIR/sluice/repl.sock, "
          "/run/sluice/repl.sock\n"
          "                      or /tmp/sluice-UID/repl.sock, the first that exists)\n"
          "  -e, --eval LINE     run LINE, print the result and exit: 0 ok, 1 the line failed,\n"
          "                      2 bad usage or no connection\n"
          "Without -e: an interactive session on a terminal (history in ~/.sluice_repl_history),\n"
          "else one line at a time from stdin. `help` at the prompt lists the commands.\n");
}

int sl_cmd_repl(int argc, char **argv) {
  static const struct option opts[] = {{"socket", required_argument, 0, 's'},
                                       {"eval", required_argument, 0, 'e'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *path = NULL, *line = NULL;
  int opt;
  optind = 1;
  while ((opt = getopt_long(argc + 1, argv - 1, "s:e:h", opts, NULL)) != -1) {
    switch (opt) {
    case 's':
      path = optarg;
      break;
    case 'e':
      line = optarg;
      break;
    case 'h':
      usage(stdout);
      return SL_EXIT_OK;
    default:
      usage(stderr);
      return SL_EXIT_USAGE;
    }
  }
  if (optind < argc + 1) {
    fprintf(stderr, "sluice repl: unexpected argument '%s'\n", argv[optind - 1]);
    usage(stderr);
    return SL_EXIT_USAGE;
  }
  char def[600];
  if (!path) {
    sl_repl_sockpath_client(def, sizeof def);
    path = def;
  }
  sl_repl_client_t cl;
  sl_err_t err = {0};
  if (sl_repl_client_connect(&cl, path, &err) < 0) {
    fprintf(stderr, "sluice repl: %s\n", err.msg);
    sl_repl_client_close(&cl);
    return SL_EXIT_USAGE;
  }
  int code = SL_EXIT_OK;
  if (line) {
    sl_repl_reply_t r;
    if (sl_repl_client_call(&cl, SL_REPL_OP_LINE, line, &r, &err) < 0) {
      fprintf(stderr, "sluice repl: %s\n", err.msg);
      code = err.code == SL_EIO ? SL_EXIT_USAGE : SL_EXIT_FAIL;
    } else {
      sl_repl_client_print(&r, stdout, stderr);
      code = r.ok ? SL_EXIT_OK : SL_EXIT_FAIL;
      sl_repl_proto_reply_deinit(&r);
    }
  } else if (isatty(STDIN_FILENO)) {
    const char *home = getenv("HOME");
    char hist[4096];
    int have = home && *home &&
               snprintf(hist, sizeof hist, "%s/.sluice_repl_history", home) < (int)sizeof hist;
    code = sl_repl_client_interactive(&cl, have ? hist : NULL) ? SL_EXIT_FAIL : SL_EXIT_OK;
  } else {
    code = sl_repl_client_script(&cl, stdin);
  }
  sl_repl_client_close(&cl);
  return code;
}
