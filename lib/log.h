/*
 * log - one log file per daemon, one line per event.
 *
 * Line format (DESIGN.md section 6):
 *   2026-11-23T10:56:16.123Z smtpd[4242] Info: New SMTP ICID 5 interface ...
 * Mail-flow events use the spec's grammar (New SMTP ICID, Start MID, MID n
 * ICID n From:, Delivery start DCID, Message done, Message finished ...), so
 * one grep on a MID follows a message through every daemon.
 *
 * The file is opened before a daemon chroots and stays open; log_open with
 * a NULL path logs to standard error.  Each line is one write(2) with
 * O_APPEND, so lines from several processes never interleave.
 */
#ifndef SP_LOG_H
#define SP_LOG_H
#include <stdarg.h>

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARNING, LOG_LVL_CRITICAL };

int	log_open(const char *daemon, const char *path);
void	log_set_level(enum log_level min);
void	log_also_stderr(int on);
void	log_close(void);
void	log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void	log_vmsg(enum log_level lvl, const char *fmt, va_list ap);
void	log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Escapes control characters and caps length, for text taken off the wire. */
const char *log_safe(const char *s, char *out, unsigned outlen);

#define log_debug(...)	log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LVL_WARNING, __VA_ARGS__)
#define log_crit(...)	log_msg(LOG_LVL_CRITICAL, __VA_ARGS__)

#endif
