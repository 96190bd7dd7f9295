/* event: being written */
