// SPDX-License-Identifier: GPL-2.0
/* Rebooting the guest (QEMU runs with -no-reboot, so the VM ends). */
#include <sys/reboot.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"

void power_reboot(void)
{
	log_msg("rebooting");
	sync();
	if (reboot(RB_AUTOBOOT) < 0)
		log_errno("reboot");
}
