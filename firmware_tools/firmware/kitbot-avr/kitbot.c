/*
 * kitbot: the reference workshop firmware for the AVR kit boards (Arduino Uno / Nano,
 * ATmega328P at 16 MHz). It answers the health check of firmware_tools over UART0 at
 * 115200 baud, one JSON object per line; PROTOCOL.md describes the lines and thresholds.
 *
 * Kit wiring: A0 battery through a 1:2 divider, A1 Sharp GP2Y0A21 distance sensor,
 * A2-A4 three reflectance line sensors, A5 motor driver current sense (1 ohm shunt),
 * motors driven on D5 (left) and D6 (right).
 */
#include <avr/eeprom.h>
#include <avr/io.h>
#include <avr/wdt.h>
#include <stdint.h>
#include <string.h>
#include <util/delay.h>

#define VERSION "1.2.0"
#define BOARD "uno"
#define LINE_MAX 96

#define BATTERY_FAIL_MV 6500
#define BATTERY_WARN_MV 7000
#define BATTERY_HIGH_MV 8600
#define DISTANCE_MIN_MV 200
#define DISTANCE_MAX_MV 3300
#define LINE_STUCK_LOW 20
#define LINE_STUCK_HIGH 1003
#define MOTOR_MIN_MA 30
#define MOTOR_MAX_MA 1500

/* Watchdog off before anything else: a reset left running by the bootloader would loop. */
uint8_t reset_cause __attribute__((section(".noinit")));
void early_init(void) __attribute__((naked, used, section(".init3")));
void early_init(void)
{
	reset_cause = MCUSR;
	MCUSR = 0;
	wdt_disable();
}

static void uart_init(void)
{
	UCSR0A = _BV(U2X0);
	UBRR0 = 16; /* 115200 baud at 16 MHz with U2X: 2.1% error, as the Arduino core uses */
	UCSR0B = _BV(RXEN0) | _BV(TXEN0);
	UCSR0C = _BV(UCSZ01) | _BV(UCSZ00);
}

static void put(char c)
{
	while (!(UCSR0A & _BV(UDRE0)))
		;
	UDR0 = c;
}

static void puts_(const char *s)
{
	while (*s)
		put(*s++);
}

static void putu(uint16_t v)
{
	char digits[6];
	uint8_t n = 0;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		put(digits[--n]);
}

static void puthex(uint8_t v)
{
	static const char hex[] = "0123456789abcdef";
	put(hex[v >> 4]);
	put(hex[v & 15]);
}

static uint16_t adc_read(uint8_t channel)
{
	ADMUX = _BV(REFS0) | (channel & 7); /* AVCC reference */
	ADCSRA = _BV(ADEN) | _BV(ADSC) | _BV(ADPS2) | _BV(ADPS1) | _BV(ADPS0);
	while (ADCSRA & _BV(ADSC))
		;
	return ADC;
}

static uint16_t adc_mv(uint8_t channel)
{
	return (uint16_t)((uint32_t)adc_read(channel) * 5000 / 1023);
}

/* The board id: 4 bytes at EEPROM 0 when set, else folded from the signature row's serial. */
static void board_id(uint8_t id[4])
{
	eeprom_read_block(id, (const void *)0, 4);
	if ((id[0] & id[1] & id[2] & id[3]) != 0xff)
		return;
	memset(id, 0, 4);
	for (uint8_t i = 0; i < 10; i++) {
		uint8_t b;
		uint16_t z = 0x0e + i;
		__asm__ volatile("ldi r24, %2\n\t"
		                 "out %1, r24\n\t"
		                 "lpm %0, Z\n\t"
		                 : "=r"(b)
		                 : "I"(_SFR_IO_ADDR(SPMCSR)), "M"(_BV(SIGRD) | _BV(SPMEN)), "z"(z)
		                 : "r24");
		id[i & 3] ^= b;
	}
}

static void part_begin(const char *name, const char *result)
{
	puts_("{\"part\":\"");
	puts_(name);
	puts_("\",\"result\":\"");
	puts_(result);
	puts_("\",\"detail\":\"");
}

static void test_motors(void)
{
	uint16_t ma[2];
	const uint8_t pins[2] = {_BV(PD5), _BV(PD6)};
	DDRD |= pins[0] | pins[1];
	for (uint8_t m = 0; m < 2; m++) {
		PORTD |= pins[m];
		_delay_ms(50); /* let the current settle before sampling the shunt */
		ma[m] = adc_mv(5); /* 1 ohm shunt: millivolts are milliamps */
		PORTD &= (uint8_t)~pins[m];
	}
	const char *result = "pass";
	for (uint8_t m = 0; m < 2; m++)
		if (ma[m] < MOTOR_MIN_MA || ma[m] > MOTOR_MAX_MA)
			result = "fail";
	part_begin("motors", result);
	for (uint8_t m = 0; m < 2; m++) {
		puts_(m ? ", right " : "left ");
		putu(ma[m]);
		puts_(" mA");
		if (ma[m] < MOTOR_MIN_MA)
			puts_(" (no current: motor unplugged?)");
		else if (ma[m] > MOTOR_MAX_MA)
			puts_(" (too much: stalled or shorted)");
	}
	puts_("\",\"ma\":[");
	putu(ma[0]);
	put(',');
	putu(ma[1]);
	puts_("]}");
}

static void test_distance(void)
{
	uint16_t mv = adc_mv(1);
	if (mv < DISTANCE_MIN_MV) {
		part_begin("distance", "fail");
		puts_("no signal: is the sensor plugged in?\"");
	} else if (mv > DISTANCE_MAX_MV) {
		part_begin("distance", "warn");
		puts_("reads closer than 10 cm: clear the view or check the wiring\"");
	} else {
		/* GP2Y0A21: distance is roughly 27 V*cm / (output - 0.1 V) */
		uint16_t cm = (uint16_t)(27000UL / (mv - 100));
		part_begin("distance", "pass");
		puts_("about ");
		putu(cm);
		puts_(" cm\",\"cm\":");
		putu(cm);
	}
	puts_(",\"mv\":");
	putu(mv);
	put('}');
}

static void test_line(void)
{
	uint16_t raw[3];
	int8_t stuck = -1;
	for (uint8_t i = 0; i < 3; i++) {
		raw[i] = adc_read(2 + i);
		if (stuck < 0 && (raw[i] < LINE_STUCK_LOW || raw[i] > LINE_STUCK_HIGH))
			stuck = (int8_t)i;
	}
	if (stuck >= 0) {
		part_begin("line", "fail");
		puts_("sensor ");
		putu((uint16_t)stuck + 1);
		puts_(raw[stuck] < LINE_STUCK_LOW ? " stuck low: shorted?" : " stuck high: unplugged?");
	} else {
		part_begin("line", "pass");
		puts_("3 sensors respond");
	}
	puts_("\",\"raw\":[");
	for (uint8_t i = 0; i < 3; i++) {
		if (i)
			put(',');
		putu(raw[i]);
	}
	puts_("]}");
}

static void test_battery(void)
{
	uint16_t mv = adc_mv(0) * 2; /* 1:2 divider */
	if (mv < BATTERY_FAIL_MV) {
		part_begin("battery", "fail");
		puts_(mv < 1000 ? "no battery connected" : "flat: charge or replace it");
	} else if (mv < BATTERY_WARN_MV) {
		part_begin("battery", "warn");
		puts_("low: charge it before the session");
	} else if (mv > BATTERY_HIGH_MV) {
		part_begin("battery", "warn");
		puts_("higher than a 2-cell pack: check the battery type");
	} else {
		part_begin("battery", "pass");
		puts_("ok");
	}
	puts_("\",\"mv\":");
	putu(mv);
	put('}');
}

static void hello(void)
{
	uint8_t id[4];
	board_id(id);
	puts_("{\"fw\":\"kitbot\",\"version\":\"" VERSION "\",\"board\":\"" BOARD "\",\"id\":\"");
	for (uint8_t i = 0; i < 4; i++)
		puthex(id[i]);
	puts_("\"}\n");
}

static void selftest(void)
{
	puts_("{\"selftest\":[");
	test_motors();
	put(',');
	test_distance();
	put(',');
	test_line();
	put(',');
	test_battery();
	puts_("]}\n");
}

/* The value of "cmd" in a one-line JSON object, or NULL; enough JSON for the host's requests. */
static const char *command(char *line)
{
	char *p = strstr(line, "\"cmd\"");
	if (!p)
		return NULL;
	p += 5;
	while (*p == ' ' || *p == ':')
		p++;
	if (*p != '"')
		return NULL;
	char *end = strchr(++p, '"');
	if (!end)
		return NULL;
	*end = '\0';
	return p;
}

static void handle(char *line)
{
	const char *cmd = command(line);
	if (cmd && strcmp(cmd, "hello") == 0)
		hello();
	else if (cmd && strcmp(cmd, "selftest") == 0)
		selftest();
	else
		puts_("{\"error\":\"unknown command\"}\n");
}

int main(void)
{
	char line[LINE_MAX + 1];
	uint8_t len = 0, overflow = 0;
	uart_init();
	for (;;) {
		while (!(UCSR0A & _BV(RXC0)))
			;
		char c = UDR0;
		if (c == '\r')
			continue;
		if (c != '\n') {
			if (len < LINE_MAX)
				line[len++] = c;
			else
				overflow = 1;
			continue;
		}
		line[len] = '\0';
		if (overflow)
			puts_("{\"error\":\"line too long\"}\n");
		else if (len)
			handle(line);
		len = 0;
		overflow = 0;
	}
}
