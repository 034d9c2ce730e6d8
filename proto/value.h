/* SPDX-License-Identifier: MIT */
#pragma once

/* rd_value is part of the public client API: its one declaration lives there. */
#include "basic/macro.h"
#include "reactord/value.h"
