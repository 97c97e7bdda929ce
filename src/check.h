/*
 * check - `klaxon check`: the daemon's pipeline, offline, on one file.
 *
 * DESCRIPTION
 *	check_main() reads a message from a file (or stdin for "-"), takes
 *	the envelope from the options, and runs exactly the code the daemon
 *	runs at end of message: origin_decide(), pipeline_run(),
 *	pipeline_log(). Side effects are the daemon's: internal viral mail is
 *	quarantined and its alert is spooled and then submitted once through
 *	sendmail_command (a failed submission stays in the spool for the
 *	daemon to retry). It prints the decision, as text or as one JSON object.
 *
 *	Exit status: 0 when the pipeline ran, whatever it decided; 1 for a
 *	config or input error; 2 for a usage error.
 */
#ifndef KLAXON_CHECK_H
#define KLAXON_CHECK_H

int check_main(int argc, char **argv);

#endif
