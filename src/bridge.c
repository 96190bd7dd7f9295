/* bridge: being written */
