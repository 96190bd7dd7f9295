/* broker: being written */
