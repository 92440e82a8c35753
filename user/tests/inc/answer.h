/* Found through -I by user/tests/flags.c. */
#define ANSWER 42
