#include "model/schedulers/scheduler.h"
