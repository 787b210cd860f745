/*
 * stallprobe: how much slower the machine's CPUs run from moment to moment.
 * One thread per CPU, pinned, does a fixed piece of arithmetic (≈ 30 µs)
 * every 2 ms and times it in its own CPU time: on a CPU of its own the time
 * stays put, so a piece that takes several times the median means the
 * (virtual) CPU itself ran slower, which a hypervisor does not always
 * report as steal time. Prints one line of figures: the median and p99 of
 * a piece, the share of slow pieces (over 3x the median), and the bursts
 * they came in (slow pieces less than 0.2 s apart on any CPU).
 *   stallprobe [-d SECONDS]
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PERIOD_NS	2000000L
#define WORK		20000
#define MAX_SAMPLES	65536

struct sample {
	double	at;	/* monotonic seconds */
	double	cpu_us;	/* CPU time of the piece */
};

struct probe {
	pthread_t	 thread;
	int		 cpu;
	double		 end;
	struct sample	*s;
	size_t		 n;
};

static double
clock_s(clockid_t c)
{
	struct timespec t;

	clock_gettime(c, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *
probe_main(void *arg)
{
	struct probe *p = arg;
	struct timespec nap = { 0, PERIOD_NS };
	volatile uint64_t x = 1;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(p->cpu, &set);
	(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	while (p->n < MAX_SAMPLES) {
		double at = clock_s(CLOCK_MONOTONIC), c0, c1;

		if (at >= p->end)
			break;
		c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
		for (int i = 0; i < WORK; i++)
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		c1 = clock_s(CLOCK_THREAD_CPUTIME_ID);
		p->s[p->n].at = at;
		p->s[p->n].cpu_us = (c1 - c0) * 1e6;
		p->n++;
		nanosleep(&nap, NULL);
	}
	return NULL;
}

static int
by_cpu(const void *a, const void *b)
{
	double x = ((const struct sample *)a)->cpu_us;
	double y = ((const struct sample *)b)->cpu_us;

	return (x > y) - (x < y);
}

static int
by_time(const void *a, const void *b)
{
	double x = ((const struct sample *)a)->at;
	double y = ((const struct sample *)b)->at;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	double secs = 8, median, p99, first = 0, last = -1, longest = 0;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct probe *pr;
	struct sample *all;
	size_t total = 0, slow = 0, bursts = 0;
	int ch;

	while ((ch = getopt(argc, argv, "d:")) != -1) {
		if (ch != 'd') {
			fprintf(stderr, "usage: stallprobe [-d SECONDS]\n");
			return 2;
		}
		secs = atof(optarg);
	}
	if (ncpu < 1)
		ncpu = 1;
	if ((pr = calloc((size_t)ncpu, sizeof(*pr))) == NULL ||
	    (all = calloc((size_t)ncpu * MAX_SAMPLES, sizeof(*all))) == NULL) {
		perror("stallprobe");
		return 1;
	}
	for (long i = 0; i < ncpu; i++) {
		pr[i].cpu = (int)i;
		pr[i].end = clock_s(CLOCK_MONOTONIC) + secs;
		pr[i].s = all + (size_t)i * MAX_SAMPLES;
		if (pthread_create(&pr[i].thread, NULL, probe_main, &pr[i])) {
			perror("stallprobe: pthread_create");
			return 1;
		}
	}
	for (long i = 0; i < ncpu; i++) {
		pthread_join(pr[i].thread, NULL);
		memmove(all + total, pr[i].s, pr[i].n * sizeof(*all));
		total += pr[i].n;
	}
	if (total == 0)
		return 1;
	qsort(all, total, sizeof(*all), by_cpu);
	median = all[total / 2].cpu_us;
	p99 = all[total * 99 / 100].cpu_us;
	qsort(all, total, sizeof(*all), by_time);
	for (size_t i = 0; i < total; i++) {
		if (all[i].cpu_us <= 3 * median)
			continue;
		slow++;
		if (last < 0 || all[i].at - last > 0.2) {
			bursts++;
			first = all[i].at;
		}
		last = all[i].at;
		if (last - first > longest)
			longest = last - first;
	}
	printf("cpus=%ld pieces=%zu median_us=%.1f p99_us=%.1f slow_pct=%.1f"
	    " bursts=%zu longest_ms=%.0f every_s=%.2f\n", ncpu, total, median,
	    p99, 100.0 * (double)slow / (double)total, bursts, longest * 1e3,
	    bursts > 0 ? secs / (double)bursts : 0.0);
	free(all);
	free(pr);
	return 0;
}
