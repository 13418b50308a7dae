/*
 * avrboard: a simulated Arduino-style board for the firmware_tools tests.
 *
 * A real ATmega (simavr) runs a real bootloader hex, optionally with an application hex
 * already in flash, its UART0 linked to a pty. The tests talk to the pty like to a USB port.
 *
 *   avrboard -b BOOTLOADER.hex [-a APP.hex] [-m atmega328p] [-f 16000000]
 *            [-e EEPROM_ID_HEX] [-A CHANNEL=MILLIVOLTS ...] [-s SPEED]
 *
 * Prints "pty <path>" on stdout once the pty is ready.
 * SIGUSR1 presses the reset button: a pty has no DTR line, so this is the reset trigger.
 * SIGTERM or SIGINT stops the board.
 *
 * simavr's reset leaves MCUSR without EXTRF, so a press sets EXTRF by hand (optiboot enters
 * its loop only after an external reset). Power-on starts the bootloader with MCUSR=PORF, as
 * a real chip does. The ADC inputs read the voltages given with -A (in millivolts, AVCC=5 V).
 * The simulation is held to real time (-s scales it), so bootloader timeouts last as long
 * as on a real board.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <simavr/avr_adc.h>
#include <simavr/avr_eeprom.h>
#include <simavr/avr_uart.h>
#include <simavr/parts/uart_pty.h>
#include <simavr/sim_avr.h>

#define MCUSR_ADDR 0x54 /* data address of MCUSR on the ATmega328P and ATmega168 */
#define PORF 0x01
#define EXTRF 0x02
#define MAX_ADC 8
#define FLASH_TAIL 256

static uint8_t loaded[0x40000 + FLASH_TAIL]; /* which flash bytes a hex record has set */

static volatile sig_atomic_t reset_pressed;
static volatile sig_atomic_t stop_requested;

static void on_reset(int sig) { (void)sig; reset_pressed = 1; }
static void on_stop(int sig) { (void)sig; stop_requested = 1; }

static void die(const char *what)
{
	fprintf(stderr, "avrboard: %s\n", what);
	exit(2);
}

/* Load an Intel HEX file (data, EOF, extended segment/linear address and start records) into
 * flash, or into EEPROM for the 0x810000 section avr-objcopy uses. simavr's own reader stops
 * at the start-address records the Arduino bootloaders carry, hence this one.
 *
 * Debian rebuilds optiboot with a newer avr-gcc: its optiboot_atmega328.hex is 532 B, so 20 B
 * of code spill past the end of flash and the .version word at 0x7FFE overlaps code. To run
 * that exact code, flash gets a FLASH_TAIL of spare bytes (simavr does not wrap the PC) and a
 * record overlapping bytes already loaded is skipped (code first, version word dropped).
 * Returns the lowest flash address loaded. */
static uint32_t load_hex(avr_t *avr, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "avrboard: cannot open %s\n", path);
		exit(2);
	}
	char line[600];
	uint32_t base = 0, lowest = UINT32_MAX;
	while (fgets(line, sizeof line, f)) {
		unsigned len, addr, type, v;
		uint8_t data[256];
		if (line[0] != ':')
			continue;
		if (sscanf(line + 1, "%2x%4x%2x", &len, &addr, &type) != 3)
			die("malformed hex record");
		unsigned sum = len + (addr >> 8) + (addr & 0xff) + type;
		for (unsigned i = 0; i <= len; i++) {
			if (sscanf(line + 9 + 2 * i, "%2x", &v) != 1)
				die("short hex record");
			sum += v;
			if (i < len)
				data[i] = (uint8_t)v;
		}
		if (sum & 0xff)
			die("hex record with a bad checksum");
		if (type == 1)
			break;
		if (type == 2 || type == 4) {
			base = ((uint32_t)data[0] << 8 | data[1]) << (type == 2 ? 4 : 16);
			continue;
		}
		if (type != 0)
			continue;
		uint32_t at = base + addr;
		if (at >= 0x810000) {
			avr_eeprom_desc_t ee = {.ee = data, .offset = (uint16_t)(at - 0x810000), .size = len};
			avr_ioctl(avr, AVR_IOCTL_EEPROM_SET, &ee);
			continue;
		}
		if (at + len > avr->flashend + 1 + FLASH_TAIL)
			die("hex file does not fit in flash");
		int overlaps = 0;
		for (unsigned i = 0; i < len; i++)
			overlaps |= loaded[at + i];
		if (overlaps) {
			fprintf(stderr, "avrboard: %s: record at 0x%04X overlaps code, skipped\n", path, at);
			continue;
		}
		memcpy(avr->flash + at, data, len);
		memset(loaded + at, 1, len);
		if (at < lowest)
			lowest = at;
	}
	fclose(f);
	if (lowest == UINT32_MAX)
		die("hex file holds no flash data");
	return lowest;
}

static void set_eeprom_id(avr_t *avr, const char *hex)
{
	uint8_t id[4];
	if (strlen(hex) != 8)
		die("-e takes 8 hex digits");
	for (int i = 0; i < 4; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			die("-e takes 8 hex digits");
		id[i] = (uint8_t)v;
	}
	avr_eeprom_desc_t ee = {.ee = id, .offset = 0, .size = sizeof id};
	avr_ioctl(avr, AVR_IOCTL_EEPROM_SET, &ee);
}

static void feed_adc(avr_t *avr, const int *mv)
{
	for (int ch = 0; ch < MAX_ADC; ch++)
		if (mv[ch] >= 0)
			avr_raise_irq(avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_ADC0 + ch),
			              (uint32_t)mv[ch]);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: avrboard -b BOOTLOADER.hex [-a APP.hex] [-m MCU] [-f HZ] "
	                "[-e EEPROM_ID] [-A CH=MV]... [-s SPEED]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *mcu = "atmega328p", *boot = NULL, *app = NULL, *eeprom_id = NULL;
	unsigned long freq = 16000000;
	double speed = 1.0;
	int adc_mv[MAX_ADC];
	for (int i = 0; i < MAX_ADC; i++)
		adc_mv[i] = -1;

	int opt;
	while ((opt = getopt(argc, argv, "m:f:b:a:e:A:s:")) != -1) {
		int ch, mv;
		switch (opt) {
		case 'm': mcu = optarg; break;
		case 'f': freq = strtoul(optarg, NULL, 10); break;
		case 'b': boot = optarg; break;
		case 'a': app = optarg; break;
		case 'e': eeprom_id = optarg; break;
		case 's': speed = atof(optarg); break;
		case 'A':
			if (sscanf(optarg, "%d=%d", &ch, &mv) != 2 || ch < 0 || ch >= MAX_ADC || mv < 0)
				die("-A takes CHANNEL=MILLIVOLTS, channel 0-7");
			adc_mv[ch] = mv;
			break;
		default: usage();
		}
	}
	if (!boot || speed <= 0)
		usage();

	avr_t *avr = avr_make_mcu_by_name(mcu);
	if (!avr)
		die("unknown MCU");
	avr_init(avr);
	avr->frequency = (uint32_t)freq;
	avr->vcc = avr->avcc = avr->aref = 5000;
	avr->log = LOG_NONE;
	if (avr->flashend + 1 > 0x40000)
		die("MCU flash too large for this harness");
	avr->flash = realloc(avr->flash, avr->flashend + 1 + FLASH_TAIL);
	if (!avr->flash)
		die("out of memory");
	memset(avr->flash + avr->flashend + 1, 0xff, FLASH_TAIL);

	/* The bootloader section sits at the top of flash; BOOTRST makes reset start there. */
	uint32_t boot_start = load_hex(avr, boot);
	if (app)
		load_hex(avr, app);
	if (eeprom_id)
		set_eeprom_id(avr, eeprom_id);
	avr->codeend = avr->flashend;
	avr->reset_pc = boot_start;
	avr->pc = boot_start;
	avr->data[MCUSR_ADDR] = PORF;
	feed_adc(avr, adc_mv);

	uart_pty_t pty;
	uart_pty_init(avr, &pty);
	uart_pty_connect(&pty, '0');
	/* simavr sleeps on every poll of an empty UART; that stretches count-based timeouts
	 * (ATmegaBOOT's 1 s wait becomes a minute). Poll at full speed; the loop below keeps
	 * the chip at real time instead. */
	uint32_t uart_flags = 0;
	avr_ioctl(avr, AVR_IOCTL_UART_GET_FLAGS('0'), &uart_flags);
	uart_flags &= ~AVR_UART_FLAG_POLL_SLEEP;
	avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &uart_flags);
	printf("pty %s\n", pty.pty.slavename);
	fflush(stdout);

	struct sigaction sa = {0};
	sa.sa_handler = on_reset;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	double start = now_s();
	avr_cycle_count_t start_cycle = avr->cycle;
	unsigned long steps = 0;
	while (!stop_requested) {
		if (reset_pressed) {
			reset_pressed = 0;
			avr_reset(avr);
			avr->pc = boot_start;
			avr->data[MCUSR_ADDR] |= EXTRF;
			feed_adc(avr, adc_mv);
		}
		int state = avr_run(avr);
		if (state == cpu_Done || state == cpu_Crashed) {
			fprintf(stderr, "avrboard: the simulated chip stopped (state %d)\n", state);
			break;
		}
		if ((++steps & 0x3ff) == 0) {
			/* hold simulated time to wall-clock time */
			if (avr->cycle < start_cycle) {
				start_cycle = avr->cycle;
				start = now_s();
			}
			double sim = (double)(avr->cycle - start_cycle) / avr->frequency / speed;
			double ahead = sim - (now_s() - start);
			if (ahead < -0.002)
				start -= ahead; /* idle polling let the chip fall behind: do not catch up */
			else if (ahead > 0.001) {
				struct timespec ts = {(time_t)ahead, (long)((ahead - (time_t)ahead) * 1e9)};
				nanosleep(&ts, NULL);
			}
		}
	}
	/* not uart_pty_stop(): it signals its thread with SIGINT and then waits for it forever */
	return 0;
}
