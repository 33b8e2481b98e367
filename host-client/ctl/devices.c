// SPDX-License-Identifier: MIT
/*
 * Reading devices.json (written by the launcher, tools/vm). Parsed with
 * json-c; a malformed or partial entry is an error, not a guess.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json.h>

#include "ctl.h"
#include "devices.h"

static int get_number(json_object *o, const char *key, uint64_t *v)
{
	json_object *x;

	if (!json_object_object_get_ex(o, key, &x))
		return -ENOENT;
	if (json_object_is_type(x, json_type_int)) {
		int64_t i = json_object_get_int64(x);

		if (i < 0)
			return -ERANGE;
		*v = (uint64_t)i;
		return 0;
	}
	if (json_object_is_type(x, json_type_string))
		return ctl_parse_u64(json_object_get_string(x), v);
	return -EINVAL;
}

int devices_lookup(const char *path, const char *id, struct mmio_device *d,
		   char *errbuf, size_t errlen)
{
	json_object *root = json_object_from_file(path), *list = root;
	int err = -ENOENT;

	if (!root) {
		snprintf(errbuf, errlen, "%s: cannot read device list: %s", path,
			 json_util_get_last_err() ? json_util_get_last_err() : "unknown error");
		return -EIO;
	}
	if (json_object_is_type(root, json_type_object))
		json_object_object_get_ex(root, "devices", &list);
	if (!json_object_is_type(list, json_type_array)) {
		snprintf(errbuf, errlen, "%s: expected an array of devices", path);
		json_object_put(root);
		return -EINVAL;
	}
	snprintf(errbuf, errlen, "%s: no device with id '%s'", path, id);
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *e = json_object_array_get_idx(list, i), *jid;
		uint64_t base, size, irq;

		if (!json_object_is_type(e, json_type_object) ||
		    !json_object_object_get_ex(e, "id", &jid) ||
		    !json_object_is_type(jid, json_type_string) ||
		    strcmp(json_object_get_string(jid), id) != 0)
			continue;
		if (get_number(e, "base", &base) || get_number(e, "size", &size) ||
		    get_number(e, "irq", &irq) || irq > UINT32_MAX) {
			snprintf(errbuf, errlen,
				 "%s: device '%s' lacks a valid base, size or irq", path, id);
			err = -EINVAL;
			break;
		}
		d->base = base;
		d->size = size;
		d->irq = (uint32_t)irq;
		err = 0;
		break;
	}
	json_object_put(root);
	return err;
}
