/* names.c — channel and event name validation (see names.h). */
#include "names.h"

#include <string.h>

static bool in_alphabet(unsigned char c, const char *extra)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c && strchr(extra, c) != NULL;
}

bool pg_channel_name_valid(const char *s, size_t n)
{
    if (n == 0 || n > PG_CHANNEL_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!in_alphabet((unsigned char)s[i], "_.:@-"))
            return false;
    return true;
}

bool pg_event_name_valid(const char *s, size_t n)
{
    if (n == 0 || n > PG_EVENT_MAX)
        return false;
    if (n >= 9 && memcmp(s, "pushgate.", 9) == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!in_alphabet((unsigned char)s[i], "_.:-"))
            return false;
    return true;
}

int pg_channel_list_split(const char *s, size_t n, const char **names, size_t *lens,
                          size_t max, const char **why)
{
    size_t count = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != ',')
            continue;
        if (!pg_channel_name_valid(s + start, i - start)) {
            *why = PG_CHANNEL_RULE;
            return -1;
        }
        if (count == max) {
            *why = "too many channels in one request";
            return -1;
        }
        for (size_t k = 0; k < count; k++)
            if (lens[k] == i - start && memcmp(names[k], s + start, lens[k]) == 0) {
                *why = "a channel is listed twice";
                return -1;
            }
        names[count] = s + start;
        lens[count] = i - start;
        count++;
        start = i + 1;
    }
    return (int)count;
}
