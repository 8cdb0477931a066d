/* The daemon: wires config, store, engine, API and gateway together. */
#ifndef JG_SERVER_SERVE_H
#define JG_SERVER_SERVE_H

/* `jitgate serve -c FILE`; argv[0] is "serve".  Returns the exit code. */
int serve_main(int argc, char **argv);
/* `jitgate check-config -c FILE`. */
int check_config_main(int argc, char **argv);

#endif
