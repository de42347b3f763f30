#include "model/image/image_io.h"
